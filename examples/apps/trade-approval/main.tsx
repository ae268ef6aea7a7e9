import { mountApp } from "../shared/mount.js";
import { App } from "./app.js";

mountApp("trade-approval", App);
