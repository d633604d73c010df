import { mount } from 'svelte';
import './ui/app.css';
import App from './ui/App.svelte';
import { AppState } from './ui/state.svelte.js';
import { FerryClient } from './ui/client.js';

const target = document.getElementById('app');
if (!target) throw new Error('#app element missing from index.html');

const app = new AppState(new FerryClient());
mount(App, { target, props: { app } });
