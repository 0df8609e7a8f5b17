// Posts the Markdown report to an incoming webhook as {"text": ...}, the payload Slack and
// Mattermost incoming webhooks accept.
import { PaysignalError, usageError } from '../errors.ts';

export async function postToWebhook(url: string, markdown: string, timeoutMs = 30_000): Promise<void> {
  let target: URL;
  try {
    target = new URL(url);
    if (target.protocol !== 'http:' && target.protocol !== 'https:') throw new Error(`unsupported protocol ${target.protocol}`);
  } catch (error) {
    throw usageError(`--webhook must be an http(s) URL: ${(error as Error).message}`, '--webhook');
  }
  // Webhook URLs carry their secret in the path: name only the origin in messages.
  const where = target.origin;
  let response: Response;
  try {
    response = await fetch(target, {
      method: 'POST',
      headers: { 'content-type': 'application/json; charset=utf-8' },
      body: JSON.stringify({ text: markdown }),
      signal: AbortSignal.timeout(timeoutMs),
    });
  } catch (error) {
    const e = error as Error & { cause?: { code?: string } };
    const reason = e.name === 'TimeoutError' ? `no answer within ${timeoutMs} ms` : e.cause?.code ?? e.message;
    throw new PaysignalError('WEBHOOK_FAILED', `cannot post the report to the webhook at ${where} (${reason})`, { cause: error });
  }
  const body = await response.text().catch(() => '');
  if (!response.ok) {
    throw new PaysignalError('WEBHOOK_FAILED', `the webhook at ${where} answered HTTP ${response.status}: ${body.slice(0, 200)}`);
  }
}
