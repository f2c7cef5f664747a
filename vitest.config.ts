import { defineConfig } from "vitest/config"
import projects from "./vitest.workspace.ts"

export default defineConfig({
  test: {
    projects: [...projects],
    // A run that collects no test is a failure, never a silent pass.
    passWithNoTests: false
  }
})
