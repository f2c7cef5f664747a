#!/usr/bin/env node
// `baton-mock-server` on any Node: see launcher.js.
import { launch } from "./launcher.js"

launch(new URL("../src/bin.ts", import.meta.url))
