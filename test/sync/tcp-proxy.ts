// A loopback TCP proxy for sync tests: records every byte both ways, and can hold each
// chunk back for a fixed latency.
import net from "node:net";

export interface TcpProxy {
  readonly port: number;
  /** Every byte that went through, both directions, in arrival order per direction. */
  captured(): Buffer;
  close(): Promise<void>;
}

export async function startProxy(
  targetPort: number,
  options: { latencyMs?: number } = {},
): Promise<TcpProxy> {
  const chunks: Buffer[] = [];
  const sockets = new Set<net.Socket>();
  const relay = (from: net.Socket, to: net.Socket) =>
    from.on("data", (data) => {
      chunks.push(Buffer.from(data));
      const send = () => {
        if (!to.destroyed) to.write(data);
      };
      if (options.latencyMs) setTimeout(send, options.latencyMs);
      else send();
    });
  const server = net.createServer((client) => {
    const upstream = net.connect(targetPort, "127.0.0.1");
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on("error", () => undefined);
      s.on("close", () => {
        client.destroy();
        upstream.destroy();
      });
    }
    relay(client, upstream);
    relay(upstream, client);
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  return {
    port: (server.address() as net.AddressInfo).port,
    captured: () => Buffer.concat(chunks),
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}
