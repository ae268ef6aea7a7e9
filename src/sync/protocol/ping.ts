// ping (client → server) and pong (server → client): a liveness check on an idle WebSocket.
import * as z from "zod/mini";
import { requestId } from "./fields.js";

export const ping = z.object({ t: z.literal("ping"), id: requestId });
export type Ping = z.output<typeof ping>;

export const pong = z.object({ t: z.literal("pong"), id: requestId });
export type Pong = z.output<typeof pong>;
