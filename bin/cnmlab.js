#!/usr/bin/env node
// The sources are TypeScript: register tsx's loader, then start the CLI.
import { register } from "tsx/esm/api"

register()
await import(new URL("../cli/main.ts", import.meta.url).href)
