import { StrictMode } from "react";
import { createRoot } from "react-dom/client";
import { loadUserConfig } from "../shared/user-config.js";
import { App } from "./app.js";

const root = createRoot(document.getElementById("root")!);
loadUserConfig("drone-swarm").then(
  (config) =>
    root.render(
      <StrictMode>
        <App config={config} />
      </StrictMode>,
    ),
  (error: unknown) => root.render(<p className="error">{String(error)}</p>),
);
