import { mountApp } from "../shared/mount.js";
import { App } from "./app.js";

mountApp("drone-swarm", App);
