import type { Server } from 'node:http';
import type { Duplex } from 'node:stream';

/**
 * Requests Node's HTTP parser refuses before any handler runs (a URL or headers over its ~16 KB
 * limit, a malformed request line) get a JSON body like every other error: SCIM Error JSON when the
 * request line names a /scim path, RFC 9457 problem JSON otherwise. Node's default answers with an
 * empty body.
 */
export function answerClientErrors(server: Server): void {
  server.on('clientError', (err: NodeJS.ErrnoException & { rawPacket?: Buffer }, socket: Duplex) => {
    if (err.code === 'ECONNRESET' || !socket.writable || (socket as { _httpMessage?: unknown })._httpMessage) {
      socket.destroy();
      return;
    }
    const tooLarge = err.code === 'HPE_HEADER_OVERFLOW';
    const status = tooLarge ? 431 : 400;
    const reason = tooLarge ? 'Request Header Fields Too Large' : 'Bad Request';
    const detail = tooLarge
      ? 'The request line and headers are too large (over 16 KB): shorten the URL, or send the filter in a POST /.search body'
      : 'Malformed HTTP request';
    const line = err.rawPacket?.toString('latin1', 0, 200) ?? '';
    const scim = /^[A-Z]+ \/scim\//.test(line);
    const body = JSON.stringify(
      scim
        ? { schemas: ['urn:ietf:params:scim:api:messages:2.0:Error'], status: String(status), detail }
        : { type: 'about:blank', title: tooLarge ? 'request_header_fields_too_large' : 'bad_request', status, detail },
    );
    const type = scim ? 'application/scim+json; charset=utf-8' : 'application/problem+json';
    socket.end(
      `HTTP/1.1 ${status} ${reason}\r\nContent-Type: ${type}\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
    );
  });
}
