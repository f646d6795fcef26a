#!/usr/bin/env node
// Re-renders a saved run (benchmarks/results/<stamp>.json) into its report, chart and latest.md, and
// refreshes the README tables, after a change to how reports look: `node benchmarks/render.mjs <json>`.
import fs from 'node:fs';
import { writeReport } from './lib/report.mjs';

const file = process.argv[2];
if (!file) {
  console.error('usage: node benchmarks/render.mjs benchmarks/results/<stamp>.json');
  process.exit(2);
}
const data = JSON.parse(fs.readFileSync(file, 'utf8'));
writeReport(data, { refreshReadmes: data.mode === 'full' && !/--only/.test(data.command) });
console.error(`re-rendered ${file}`);
