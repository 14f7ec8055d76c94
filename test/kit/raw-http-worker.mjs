// A raw HTTP/1.1 client in a worker thread, for tests of early answers: it writes whole requests as
// fast as the socket takes them, without waiting for an answer (as curl without Expect does), and
// reports each answer's status, or the socket error that came instead. In a thread of its own, so
// that the server's close and the client's reads race as they do between two processes.
import { connect } from 'node:net';
import { parentPort } from 'node:worker_threads';

/** @param {{ path: string, bodyBytes: number, fill: string, chunked?: boolean, headers: Record<string, string> }} r */
function requestBytes(r) {
  const body = Buffer.alloc(r.bodyBytes, r.fill);
  const framing = r.chunked ? 'transfer-encoding: chunked' : `content-length: ${body.length}`;
  const lines = Object.entries({ host: 'x', ...r.headers }).map(([k, v]) => `${k}: ${v}\r\n`);
  const head = Buffer.from(`POST ${r.path} HTTP/1.1\r\n${lines.join('')}${framing}\r\n\r\n`);
  if (!r.chunked) return [head, body];
  const chunks = [head];
  for (let o = 0; o < body.length; o += 65_536) {
    const c = body.subarray(o, o + 65_536);
    chunks.push(Buffer.from(`${c.length.toString(16)}\r\n`), c, Buffer.from('\r\n'));
  }
  chunks.push(Buffer.from('0\r\n\r\n'));
  return chunks;
}

/** Sends the requests on one connection; resolves with the statuses, then the error or 'closed' if one came first. */
function send(port, requests) {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    const statuses = [];
    let received = '';
    let done = false;
    const finish = (extra) => {
      if (done) return;
      done = true;
      socket.destroy();
      resolve(extra === undefined ? statuses : [...statuses, extra]);
    };
    socket.on('data', (d) => {
      received += d.toString('latin1');
      // Answers carry a content-length, or none (204); count the complete ones.
      for (;;) {
        const end = received.indexOf('\r\n\r\n');
        if (end < 0) break;
        const head = received.slice(0, end);
        const length = Number(/\r\ncontent-length: (\d+)/i.exec(head)?.[1] ?? 0);
        if (received.length < end + 4 + length) break;
        statuses.push(head.slice(9, 12));
        received = received.slice(end + 4 + length);
      }
      if (statuses.length === requests.length) finish();
    });
    socket.on('error', (err) => finish(err.code ?? err.message));
    socket.on('close', () => finish('closed'));
    for (const r of requests) for (const b of requestBytes(r)) socket.write(b);
  });
}

parentPort?.on('message', async ({ id, port, requests }) => {
  parentPort?.postMessage({ id, statuses: await send(port, requests) });
});
