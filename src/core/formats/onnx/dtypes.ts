import type { DType } from '../../ir/dtype.js';

/**
 * ONNX TensorProto.DataType codes (onnx.proto) and how they map to Ferry dtypes.
 * `field` is the typed TensorProto field that holds the values when raw_data is not used.
 */
export type OnnxDataField = 'float_data' | 'int32_data' | 'int64_data' | 'double_data' | 'uint64_data' | 'string_data';

export interface OnnxDataType {
  code: number;
  name: string;
  /** Ferry dtype, or undefined when Ferry cannot represent the type (STRING, INT4, UINT4, INT2, UINT2). */
  dtype: DType | undefined;
  field: OnnxDataField | undefined;
}

const T = (code: number, name: string, dtype: DType | undefined, field: OnnxDataField | undefined): OnnxDataType => ({ code, name, dtype, field });

export const ONNX_DATA_TYPES: readonly OnnxDataType[] = [
  T(0, 'UNDEFINED', undefined, undefined),
  T(1, 'FLOAT', 'F32', 'float_data'),
  T(2, 'UINT8', 'U8', 'int32_data'),
  T(3, 'INT8', 'I8', 'int32_data'),
  T(4, 'UINT16', 'U16', 'int32_data'),
  T(5, 'INT16', 'I16', 'int32_data'),
  T(6, 'INT32', 'I32', 'int32_data'),
  T(7, 'INT64', 'I64', 'int64_data'),
  T(8, 'STRING', undefined, 'string_data'),
  T(9, 'BOOL', 'BOOL', 'int32_data'),
  T(10, 'FLOAT16', 'F16', 'int32_data'),
  T(11, 'DOUBLE', 'F64', 'double_data'),
  T(12, 'UINT32', 'U32', 'uint64_data'),
  T(13, 'UINT64', 'U64', 'uint64_data'),
  T(14, 'COMPLEX64', 'C64', 'float_data'),
  T(15, 'COMPLEX128', 'C128', 'double_data'),
  T(16, 'BFLOAT16', 'BF16', 'int32_data'),
  T(17, 'FLOAT8E4M3FN', 'F8_E4M3', 'int32_data'),
  T(18, 'FLOAT8E4M3FNUZ', 'F8_E4M3FNUZ', 'int32_data'),
  T(19, 'FLOAT8E5M2', 'F8_E5M2', 'int32_data'),
  T(20, 'FLOAT8E5M2FNUZ', 'F8_E5M2FNUZ', 'int32_data'),
  T(21, 'UINT4', undefined, 'int32_data'),
  T(22, 'INT4', undefined, 'int32_data'),
  T(23, 'FLOAT4E2M1', 'F4', 'int32_data'),
  T(24, 'FLOAT8E8M0', 'F8_E8M0', 'int32_data'),
  T(25, 'UINT2', undefined, 'int32_data'),
  T(26, 'INT2', undefined, 'int32_data'),
];

export function onnxDataType(code: number): OnnxDataType | undefined {
  return ONNX_DATA_TYPES[code];
}

/** Display name for a graph input/output element type: the Ferry dtype if any, else the ONNX name. */
export function onnxTypeName(code: number): string {
  const t = ONNX_DATA_TYPES[code];
  if (!t) return `type#${code}`;
  return t.dtype ?? t.name;
}

/** Ferry dtype → ONNX data type code (for writers and tests). */
export function onnxCodeOf(dtype: DType): number | undefined {
  return ONNX_DATA_TYPES.find((t) => t.dtype === dtype)?.code;
}
