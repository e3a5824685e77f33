// End to end: headless Chromium → `next start` (the built kit) → the Python service → the repo's
// OpenAI-compatible test server, which streams the offline analyzer's answer for the sample
// contract in 8-character chunks every 30 ms, so the page sees a paced, realistic stream.
//
// Needs `next build` first and Chromium at /usr/bin/chromium (CHROMIUM_PATH overrides).
// UPDATE_SCREENSHOT=1 writes the finished page to docs/screenshot.png.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { promisify } from 'node:util';

import * as contract from '@contract';
import { type BrowserContext, chromium, type Page } from 'playwright-core';

import { api, type Proc, PYTHON, ROOT, type Service, startModelServer, startNext, startService } from './support';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

let dir: string;
let answer: contract.AnalyseResponse['findings'];
let model: { baseUrl: string; proc: Proc } | undefined;
let service: Service | undefined;
let next: { baseUrl: string; proc: Proc } | undefined;
let browser: BrowserContext | undefined;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'kit-e2e-'));
  // The model's answer: the offline analyzer's JSON for the sample, findings first (the
  // service's streaming parser emits each finding as soon as its object closes).
  const { stdout } = await promisify(execFile)(
    PYTHON,
    [
      '-c',
      'from app.analyzer.engine import analyse; import sys; ' +
        "sys.stdout.write(analyse(open('examples/contract.txt').read(), 'contract').model_dump_json())",
    ],
    { cwd: ROOT },
  );
  const draft = JSON.parse(stdout) as { findings: contract.Finding[]; summary: string };
  assert.deepEqual(Object.keys(draft), ['findings', 'summary']);
  answer = draft.findings;
  assert.ok(answer.length >= 3, 'the sample should give several findings');
  const answerFile = join(dir, 'answer.json');
  await writeFile(answerFile, stdout);

  model = await startModelServer(answerFile, join(dir, 'model.log'));
  service = await startService({
    LLM_PROVIDER: 'openai',
    OPENAI_API_KEY: 'unused',
    OPENAI_BASE_URL: model.baseUrl,
  });
  next = await startNext(service.baseUrl, join(dir, 'next.log'));
  browser = await chromium.launchPersistentContext(join(dir, 'profile'), {
    executablePath: CHROMIUM,
    headless: true,
    args: CHROMIUM_ARGS,
    viewport: { width: 1280, height: 1000 },
    deviceScaleFactor: 1,
  });
});

after(async () => {
  await browser?.close().catch(() => undefined);
  await next?.proc.stop();
  await service?.stop();
  await model?.proc.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

async function openPage(): Promise<Page> {
  const page = await browser!.newPage();
  await page.goto(next!.baseUrl);
  return page;
}

async function stored(id: string): Promise<contract.AnalysisDetail> {
  const response = await api(service!, `/v1/analyses/${id}`);
  assert.equal(response.status, 200);
  return contract.AnalysisDetail.parse(await response.json());
}

describe('the page, through next start, against the real service', () => {
  test('a sample contract streams in: findings appear before the stream ends, then the summary', async () => {
    const page = await openPage();
    assert.match(await page.locator('textarea').inputValue(), /^MASTER SERVICES AGREEMENT/);
    await page.selectOption('select[name=document_type]', 'contract');
    await page.click('[data-testid=analyse]');

    const results = page.locator('[data-testid=results]');
    await page.locator('[data-testid=finding]').first().waitFor({ timeout: 30_000 });
    // The first finding is on screen while the stream is still running.
    assert.equal(await results.getAttribute('data-phase'), 'streaming');
    assert.equal(await page.locator('[data-testid=summary]').count(), 0);
    const early = await page.locator('[data-testid=finding]').count();
    assert.ok(early < answer.length, `all ${early} findings arrived at once`);

    await page.locator('[data-testid=summary]').waitFor({ timeout: 60_000 });
    assert.equal(await results.getAttribute('data-phase'), 'done');
    const risks = await page.locator('[data-testid=finding]').evaluateAll((items) =>
      items.map((item) => item.getAttribute('data-risk')),
    );
    assert.deepEqual(risks, answer.map((finding) => finding.risk));
    const badges = await page.locator('[data-testid=finding] .badge').allTextContents();
    assert.ok(badges.every((badge) => /^(High|Medium|Low) risk$/.test(badge)), badges.join(', '));
    assert.match(await page.locator('[data-testid=status]').innerText(), /^Finished in \d+\.\d s$/);
    assert.ok((await page.locator('[data-testid=summary]').innerText()).length > 40);

    const id = await results.getAttribute('data-analysis-id');
    assert.ok(id);
    const row = await stored(id);
    assert.equal(row.status, 'completed');
    assert.deepEqual(row.findings, answer);

    await page.evaluate(() => window.scrollTo(0, 0));
    const path = process.env.UPDATE_SCREENSHOT ? join(ROOT, 'docs', 'screenshot.png') : join(dir, 'screenshot.png');
    await page.screenshot({ path });
    await page.close();
  });

  test('closing the page mid-stream leaves the analysis cancelled', async () => {
    const page = await openPage();
    await page.click('[data-testid=analyse]');
    await page.locator('[data-testid=finding]').first().waitFor({ timeout: 30_000 });
    const id = await page.locator('[data-testid=results]').getAttribute('data-analysis-id');
    assert.ok(id);
    assert.equal((await stored(id)).status, 'streaming');
    await page.close();

    const deadline = Date.now() + 20_000;
    let row = await stored(id);
    while (row.status === 'streaming' && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 100));
      row = await stored(id);
    }
    assert.equal(row.status, 'cancelled');
    assert.equal(row.error_code, 'client_disconnected');
    assert.ok((row.findings ?? []).length < answer.length, 'the analysis ran to the end');
    assert.equal(row.summary, null);
  });

  test('a document over the limit shows the error state, without calling the service', async () => {
    const before = await api(service!, '/v1/analyses?limit=100');
    const count = contract.AnalysisPage.parse(await before.json()).items.length;
    const page = await openPage();
    await page.locator('textarea').fill('a'.repeat(500_001));
    await page.click('[data-testid=analyse]');
    const error = page.locator('[data-testid=error]');
    await error.waitFor({ timeout: 10_000 });
    assert.match(await error.innerText(), /validation_error/);
    assert.equal(await page.locator('[data-testid=results]').getAttribute('data-phase'), 'failed');
    await page.close();
    const afterList = await api(service!, '/v1/analyses?limit=100');
    assert.equal(contract.AnalysisPage.parse(await afterList.json()).items.length, count);
  });
});
