// ESLint: typescript-eslint's type-checked rules plus Effect's own lint plugin.
import js from "@eslint/js"
import effect from "@effect/eslint-plugin"
import tseslint from "typescript-eslint"

export default tseslint.config(
  { ignores: ["**/node_modules/**", "**/dist/**", "**/*.js"] },
  js.configs.recommended,
  ...tseslint.configs.strictTypeChecked,
  {
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname }
    },
    plugins: { "@effect": effect },
    rules: {
      "@effect/dprint": ["error", {
        config: {
          indentWidth: 2,
          lineWidth: 120,
          semiColons: "asi",
          quoteStyle: "alwaysDouble",
          trailingCommas: "never",
          operatorPosition: "maintain",
          "arrowFunction.useParentheses": "force"
        }
      }],
      "@typescript-eslint/no-explicit-any": "error",
      "@typescript-eslint/consistent-type-imports": ["error", { fixStyle: "inline-type-imports" }],
      "@typescript-eslint/restrict-template-expressions": ["error", { allowNumber: true, allowBoolean: true }],
      // Effect generators yield effects, never plain values.
      "require-yield": "off",
      // Effect code overloads and narrows by `_tag` on purpose.
      "@typescript-eslint/unified-signatures": "off",
      // The platform's index loads every Node module of it (the Redis client among them): about 750 modules
      // more for whoever imports a provider adapter (bench/README.md, "Tenth session").
      "no-restricted-imports": ["error", {
        paths: [{
          name: "@effect/platform-node",
          message: "Import the module by its path (\"@effect/platform-node/NodeHttpClient\"): the index loads them all."
        }]
      }]
    }
  }
)
