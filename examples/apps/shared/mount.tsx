// Each app's entry: loads this user's configuration (user-config.ts), then renders the app in
// StrictMode, or the reason it cannot.
import { StrictMode } from "react";
import type { ComponentType } from "react";
import { createRoot } from "react-dom/client";
import { loadUserConfig } from "./user-config.js";
import type { UserConfig } from "./user-config.js";

export function mountApp(
  app: string,
  App: ComponentType<{ config: UserConfig }>,
): void {
  const root = createRoot(document.getElementById("root")!);
  loadUserConfig(app).then(
    (config) =>
      root.render(
        <StrictMode>
          <App config={config} />
        </StrictMode>,
      ),
    (error: unknown) => root.render(<p className="error">{String(error)}</p>),
  );
}
