/**
 * Content-Security-Policy violations in a browser context: in its pages and in every worker they
 * start (the model worker, ONNX Runtime's threads, tfjs's Blob workers), nested ones included.
 * A violation fires `securitypolicyviolation` on the global where it happened — a worker's own
 * scope, not the page — and Chromium logs only some of them, so each global gets a listener.
 *
 * Pages get it from an init script. Workers get it over the Chrome DevTools Protocol: a session
 * per page auto-attaches to its workers (and to theirs) paused before their first script, adds
 * the listener and lets them run. The listener writes each violation to the console behind a
 * marker; Playwright reports workers' console messages as the page's, where this reads them.
 */
import type { BrowserContext, CDPSession, Page } from '@playwright/test';

export interface Violation {
  directive: string;
  blocked: string;
  source: string;
}

const MARKER = '[csp-violation] ';

const LISTENER = `self.addEventListener('securitypolicyviolation', (e) => console.error(${JSON.stringify(MARKER)} + JSON.stringify({
  directive: e.effectiveDirective, blocked: e.blockedURI, source: e.sourceFile + ':' + e.lineNumber })));`;

interface ProtocolMessage {
  id?: number;
  method?: string;
  params?: Record<string, unknown>;
}

export class CspWatch {
  readonly violations: Violation[] = [];
  private readonly expected: Array<(v: Violation) => boolean> = [];
  private readonly sessions: CDPSession[] = [];
  private nextId = 1;

  /** Watches `context`'s pages, those it has and those it opens. */
  async watchContext(context: BrowserContext): Promise<void> {
    await context.addInitScript({ content: LISTENER });
    context.on('page', (page) => void this.watchPage(page));
    await Promise.all(context.pages().map((page) => this.watchPage(page)));
  }

  /**
   * Violations a test provokes on purpose: they are seen (in `violations`) but do not fail it.
   * A predicate, not a count, since one violation may be reported once per policy and late.
   */
  expect(match: (v: Violation) => boolean): void {
    this.expected.push(match);
  }

  /** The violations no `expect` accounts for. */
  unexpected(): Violation[] {
    return this.violations.filter((v) => !this.expected.some((match) => match(v)));
  }

  async stop(): Promise<void> {
    await Promise.all(this.sessions.map((s) => s.detach().catch(() => undefined)));
  }

  private async watchPage(page: Page): Promise<void> {
    page.on('console', (message) => {
      const text = message.text();
      if (text.startsWith(MARKER)) this.violations.push(JSON.parse(text.slice(MARKER.length)) as Violation);
    });
    const cdp = await page.context().newCDPSession(page);
    this.sessions.push(cdp);
    cdp.on('Target.attachedToTarget', (e) => void this.attached(cdp, [e.sessionId]));
    cdp.on('Target.receivedMessageFromTarget', (e) => this.received(cdp, [e.sessionId], e.message));
    // Not flattened: this session's messages to a worker travel inside Target.sendMessageToTarget,
    // apart from Playwright's own session with the same worker.
    await cdp.send('Target.setAutoAttach', { autoAttach: true, waitForDebuggerOnStart: true, flatten: false });
  }

  /** Sends a command to the worker at the end of `path` (session ids from the page down). */
  private async send(cdp: CDPSession, path: readonly string[], method: string, params: Record<string, unknown> = {}): Promise<void> {
    let message: ProtocolMessage = { id: this.nextId++, method, params };
    for (let i = path.length - 1; i >= 1; i--) {
      message = { id: this.nextId++, method: 'Target.sendMessageToTarget', params: { sessionId: path[i], message: JSON.stringify(message) } };
    }
    await cdp.send('Target.sendMessageToTarget', { sessionId: path[0] ?? '', message: JSON.stringify(message) }).catch(() => undefined);
  }

  /** A worker was attached, paused: give it the listener, watch its own workers, let it run. */
  private async attached(cdp: CDPSession, path: readonly string[]): Promise<void> {
    await this.send(cdp, path, 'Runtime.evaluate', { expression: LISTENER });
    await this.send(cdp, path, 'Target.setAutoAttach', { autoAttach: true, waitForDebuggerOnStart: true, flatten: false });
    await this.send(cdp, path, 'Runtime.runIfWaitingForDebugger');
  }

  private received(cdp: CDPSession, path: readonly string[], text: string): void {
    const message = JSON.parse(text) as ProtocolMessage;
    const params = message.params ?? {};
    if (message.method === 'Target.receivedMessageFromTarget') {
      this.received(cdp, [...path, String(params['sessionId'])], String(params['message']));
    } else if (message.method === 'Target.attachedToTarget') {
      void this.attached(cdp, [...path, String(params['sessionId'])]);
    }
  }
}
