#!/usr/bin/env node
// Entry point kept in plain JS so `npx kfbundle` runs the compiled tool without a TypeScript runtime.
import { main } from '../dist/cli/main.js';

process.exitCode = await main(process.argv.slice(2));
