// End to end for the AI SDK pages: headless Chromium → `next start` → the Python service → the
// OpenAI-compatible test server (the offline analyzer's answer for the sample contract, paced).
// - /chat: `useChat` with DefaultChatTransport, unmodified; findings render before the end, the
//   Markdown report after; a reload mid-analysis resumes the same analysis (`resume: true`); Stop
//   leaves the row `cancelled` once RESUME_GRACE_SECONDS pass with no reconnect.
// - /api/chat with a `useCompletion` body ({prompt}) answers the Markdown report.
// - /history: the organisation's analyses with status, risk counts, TTFT, a chart and a detail.
// UPDATE_SCREENSHOT=1 writes docs/chat.png and docs/history.png.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { promisify } from 'node:util';

import * as contract from '@contract';
import { createParser } from 'eventsource-parser';
import { type BrowserContext, chromium, type Page } from 'playwright-core';

import { api, type Proc, PYTHON, ROOT, type Service, startModelServer, startNext, startService, textChunks } from './support';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
// The page's analyses are resumable: Stop leaves the analysis to the service's grace period.
// Long enough for a reload (navigation, hydration, the resume request) on a loaded machine.
const GRACE_SECONDS = 5;
const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking'];

let dir: string;
let answer: contract.Finding[];
let model: { baseUrl: string; proc: Proc } | undefined;
let service: Service | undefined;
let next: { baseUrl: string; proc: Proc } | undefined;
let browser: BrowserContext | undefined;
const finished: string[] = [];

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'kit-chat-'));
  const { stdout } = await promisify(execFile)(
    PYTHON,
    [
      '-c',
      'from app.analyzer.engine import analyse; import sys; ' +
        "sys.stdout.write(analyse(open('examples/contract.txt').read(), 'contract').model_dump_json())",
    ],
    { cwd: ROOT },
  );
  answer = (JSON.parse(stdout) as { findings: contract.Finding[] }).findings;
  const answerFile = join(dir, 'answer.json');
  await writeFile(answerFile, stdout);
  model = await startModelServer(answerFile, join(dir, 'model.log'));
  service = await startService({
    LLM_PROVIDER: 'openai',
    OPENAI_API_KEY: 'unused',
    OPENAI_BASE_URL: model.baseUrl,
    RESUME_GRACE_SECONDS: String(GRACE_SECONDS),
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

async function stored(id: string): Promise<contract.AnalysisDetail> {
  const response = await api(service!, `/v1/analyses/${id}`);
  assert.equal(response.status, 200);
  return contract.AnalysisDetail.parse(await response.json());
}

async function analysisCount(): Promise<number> {
  const response = await api(service!, '/v1/analyses?limit=100');
  assert.equal(response.status, 200);
  return ((await response.json()) as { items: unknown[] }).items.length;
}

function screenshotPath(name: string): string {
  return process.env.UPDATE_SCREENSHOT ? join(ROOT, 'docs', name) : join(dir, name);
}

async function openChat(): Promise<Page> {
  const page = await browser!.newPage();
  await page.goto(`${next!.baseUrl}/chat`);
  return page;
}

describe('useChat, useCompletion and the history dashboard', () => {
  test('useChat: findings appear before the end, then the Markdown report', async () => {
    const page = await openChat();
    await page.click('[data-testid=analyse]');
    const results = page.locator('[data-testid=chat-results]');
    await page.locator('[data-testid=chat-finding]').first().waitFor({ timeout: 60_000 });
    assert.equal(await results.getAttribute('data-phase'), 'streaming');
    const early = await page.locator('[data-testid=chat-finding]').count();
    assert.ok(early < answer.length, `all ${early} findings arrived at once`);

    await page.locator('[data-testid=chat-results][data-phase=done]').waitFor({ timeout: 90_000 });
    const risks = await page
      .locator('[data-testid=chat-finding]')
      .evaluateAll((items) => items.map((item) => item.getAttribute('data-risk')));
    assert.deepEqual(risks, answer.map((finding) => finding.risk));
    // The report is rendered Markdown: headings and block quotes, not raw `##`.
    assert.equal(await page.locator('[data-testid=report] h2').first().innerText(), 'Findings');
    assert.ok((await page.locator('[data-testid=report] blockquote').count()) >= answer.length);
    assert.match(await page.locator('[data-testid=usage]').innerText(), /^First token after \d+ ms/);

    const id = await results.getAttribute('data-analysis-id');
    assert.ok(id);
    const row = await stored(id);
    assert.equal(row.status, 'completed');
    assert.deepEqual(row.findings, answer);
    finished.push(id);
    await page.screenshot({ path: screenshotPath('chat.png'), fullPage: true });
    await page.close();
  });

  test('a reload mid-analysis continues the same analysis', async () => {
    const before = await analysisCount();
    const page = await openChat();
    await page.click('[data-testid=analyse]');
    await page.locator('[data-testid=chat-finding]').first().waitFor({ timeout: 60_000 });
    const results = page.locator('[data-testid=chat-results]');
    const id = await results.getAttribute('data-analysis-id');
    assert.ok(id);
    const url = page.url();
    assert.match(url, /\/chat\?chat=/);
    await page.reload();
    assert.equal(page.url(), url);
    await page.locator('[data-testid=chat-results][data-phase=done]').waitFor({ timeout: 90_000 });
    assert.equal(await results.getAttribute('data-analysis-id'), id);
    const risks = await page
      .locator('[data-testid=chat-finding]')
      .evaluateAll((items) => items.map((item) => item.getAttribute('data-risk')));
    assert.deepEqual(risks, answer.map((finding) => finding.risk));
    assert.equal((await stored(id)).status, 'completed');
    // One analysis, one model call: the reload reconnected instead of starting again.
    assert.equal(await analysisCount(), before + 1);
    await page.close();
  });

  test('Stop leaves the row cancelled', async () => {
    const page = await openChat();
    await page.click('[data-testid=analyse]');
    await page.locator('[data-testid=chat-finding]').first().waitFor({ timeout: 60_000 });
    const id = await page.locator('[data-testid=chat-results]').getAttribute('data-analysis-id');
    assert.ok(id);
    await page.click('[data-testid=stop]');
    const deadline = Date.now() + (GRACE_SECONDS + 20) * 1000;
    let row = await stored(id);
    while (row.status === 'streaming' && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 100));
      row = await stored(id);
    }
    assert.equal(row.status, 'cancelled');
    assert.ok((row.findings ?? []).length < answer.length, 'the analysis ran to the end');
    finished.push(id);
    await page.close();
  });

  test('a useCompletion body ({prompt}) gets the Markdown report', async () => {
    const contractText = await import('node:fs/promises').then((fs) =>
      fs.readFile(join(ROOT, 'examples', 'contract.txt'), 'utf8'),
    );
    const response = await fetch(`${next!.baseUrl}/api/chat`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ prompt: contractText }),
    });
    assert.equal(response.status, 200);
    assert.equal(response.headers.get('x-vercel-ai-ui-message-stream'), 'v1');
    let report = '';
    const parser = createParser({
      onEvent(event) {
        if (event.data === '[DONE]') return;
        const part = JSON.parse(event.data) as { type: string; delta?: string };
        if (part.type === 'text-delta') report += part.delta;
      },
    });
    for await (const text of textChunks(response.body!)) parser.feed(text);
    assert.match(report, /^## Findings\n\n### 1\. (High|Medium|Low) risk/);
    assert.match(report, /## Summary\n\n/);
  });

  test('the history dashboard: status, risk counts, TTFT, chart and detail', async () => {
    const page = await browser!.newPage();
    await page.goto(`${next!.baseUrl}/history`);
    const rows = page.locator('[data-testid=history-row]');
    assert.ok((await rows.count()) >= finished.length);
    const completed = page.locator(`[data-testid=history-row][data-id="${finished[0]}"]`);
    assert.equal(await completed.getAttribute('data-status'), 'completed');
    const high = answer.filter((finding) => finding.risk === 'high').length;
    assert.equal(await completed.locator('td[data-risk=high]').innerText(), String(high));
    assert.match(await completed.locator('td').last().innerText(), /^\d+ ms$/);
    const cancelled = page.locator(`[data-testid=history-row][data-id="${finished[1]}"]`);
    assert.equal(await cancelled.getAttribute('data-status'), 'cancelled');
    // recharts draws the stacked bars as SVG paths, one per risk with findings.
    await page.locator('[data-testid=risk-chart] .recharts-bar-rectangle').first().waitFor({ timeout: 10_000 });
    await page.locator('[data-testid=category-chart] .recharts-bar-rectangle').first().waitFor({ timeout: 10_000 });
    const category = answer[0].category.replaceAll('_', ' ');
    assert.ok((await page.locator('[data-testid=category-chart] .recharts-legend-item-text').allInnerTexts()).includes(category));
    await page.screenshot({ path: screenshotPath('history.png'), fullPage: true });

    await completed.locator('a').click();
    await page.locator('[data-testid=detail-status]').waitFor({ timeout: 10_000 });
    assert.equal(await page.locator('[data-testid=detail-status]').innerText(), 'completed');
    assert.equal(await page.locator('[data-testid=detail-finding]').count(), answer.length);
    await page.close();
  });
});
