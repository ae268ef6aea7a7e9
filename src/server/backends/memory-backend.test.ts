import { describeBackendConformance } from "../backend-conformance.js";
import { createMemoryBackend } from "./memory-backend.js";

describeBackendConformance("memory", () =>
  Promise.resolve(createMemoryBackend()),
);
