#!/usr/bin/env node
// The kiln command: a thin launcher for the built CLI (npm install builds dist/ via `prepare`).
import { main } from "../dist/cli/main.js";

process.exitCode = await main(process.argv.slice(2), process.env);
