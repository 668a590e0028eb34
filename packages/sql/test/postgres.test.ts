import { findTestServer } from "@gamifykit/adapter-tests";
import { registerSqlTests } from "./register.js";

registerSqlTests("postgres", await findTestServer("postgres"));
