import path from 'node:path';
import { fileURLToPath } from 'node:url';

import type { NextConfig } from 'next';

const here = path.dirname(fileURLToPath(import.meta.url));

const config: NextConfig = {
  // The generated contract lives next door (../typescript/schemas.ts, imported as
  // `@contract`); let Next compile TypeScript from outside this folder. A copy of the kit
  // that keeps schemas.ts inside the app needs neither of these two settings.
  experimental: { externalDir: true },
  outputFileTracingRoot: path.join(here, '..'),
  // No ESLint in this kit; `npm run typecheck` and `next build` type-check it.
  eslint: { ignoreDuringBuilds: true },
  poweredByHeader: false,
};

export default config;
