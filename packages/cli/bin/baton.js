#!/usr/bin/env node
// `baton` on any Node: see @baton/testing's launcher.js.
import { launch } from "@baton/testing/launcher"

launch(new URL("../src/bin.ts", import.meta.url))
