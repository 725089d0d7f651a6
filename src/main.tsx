import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import { App } from './app/App';
import './app/debug';
import { startSession } from './app/session';

const root = document.getElementById('root');
if (!root) throw new Error('index.html has no #root element');
// The address and the stored session set the view before the first render (see session.ts).
void startSession();
createRoot(root).render(<StrictMode><App /></StrictMode>);
