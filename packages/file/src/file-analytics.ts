import type { AnalyticsBucket, AnalyticsStore, GamifyEvent, Granularity } from "@gamifykit/core";
import type { Attachment } from "./database.js";

/** The file {@link AnalyticsStore}. Records resolve once their log record is acknowledged. */
export class FileAnalytics implements AnalyticsStore {
  readonly name = "file";

  constructor(private readonly link: Attachment) {}

  async record(event: GamifyEvent): Promise<void> {
    const db = await this.link.db();
    await db.writeAnalytics(db.analytics.plan(event));
  }

  async aggregate({ granularity, from, to }: { granularity: Granularity; from: number; to: number }): Promise<AnalyticsBucket[]> {
    return (await this.link.db()).analytics.aggregate(granularity, from, to);
  }

  async activeUsers({ granularity, at }: { granularity: Granularity; at: number }): Promise<number> {
    return (await this.link.db()).analytics.activeUsers(granularity, at);
  }

  async forgetUser(userId: string): Promise<void> {
    const db = await this.link.db();
    await db.writeAnalytics({ op: "analytics.forget", userId });
  }

  close(): Promise<void> {
    return this.link.close();
  }
}
