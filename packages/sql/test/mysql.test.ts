import { findTestServer } from "@gamifykit/adapter-tests";
import { registerSqlTests } from "./register.js";

// MySQL 8 or MariaDB 10.11+ (the machines here run MariaDB 10.11).
registerSqlTests("mysql", await findTestServer("mysql"));
