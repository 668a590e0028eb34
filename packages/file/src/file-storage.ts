import type { AwardOutcome, AwardRequest, EventPage, GamifyEvent, Storage, UserPage, UserState } from "@gamifykit/core";
import type { Attachment } from "./database.js";

/**
 * The file {@link Storage}. Calls that change state resolve once their log record is
 * acknowledged by the durability mode; calls that change nothing (a replayed idempotency key, a
 * badge already held, a used claim) wait until the state they answered from is acknowledged too.
 */
export class FileStorage implements Storage {
  readonly name = "file";

  constructor(private readonly link: Attachment) {}

  async applyAwards(userId: string, requests: readonly AwardRequest[], now: number): Promise<AwardOutcome[]> {
    const db = await this.link.db();
    const { outcomes, record } = db.storage.planAwards(userId, requests, now);
    await db.writeStorage(record);
    return outcomes;
  }

  async getUser(userId: string): Promise<UserState | null> {
    return (await this.link.db()).storage.getUser(userId);
  }

  async awardBadge(userId: string, badge: string, event: GamifyEvent): Promise<{ awarded: boolean; awardedAt: number }> {
    const db = await this.link.db();
    const held = db.storage.badgeTime(userId, badge);
    if (held !== undefined) {
      await db.writeStorage(undefined);
      return { awarded: false, awardedAt: held };
    }
    await db.writeStorage({ op: "badge", userId, badge, event });
    return { awarded: true, awardedAt: event.at };
  }

  async revokeBadge(userId: string, badge: string, event: GamifyEvent): Promise<boolean> {
    const db = await this.link.db();
    const held = db.storage.badgeTime(userId, badge) !== undefined;
    await db.writeStorage(held ? { op: "revoke", userId, badge, event } : undefined);
    return held;
  }

  async claimOnce(userId: string, key: string, at: number): Promise<boolean> {
    const db = await this.link.db();
    const claimed = db.storage.hasClaim(userId, key);
    await db.writeStorage(claimed ? undefined : { op: "claim", userId, key, at });
    return !claimed;
  }

  async appendEvents(events: readonly GamifyEvent[]): Promise<void> {
    const db = await this.link.db();
    await db.writeStorage(events.length === 0 ? undefined : { op: "events", events: [...events] });
  }

  async readEvents(userId: string, { cursor, limit }: { cursor?: string | undefined; limit: number }): Promise<EventPage> {
    return (await this.link.db()).storage.readEvents(userId, cursor, limit);
  }

  async countEvents(userId: string, { type, action, since }: { type: string; action?: string | undefined; since?: number | undefined }): Promise<number> {
    return (await this.link.db()).storage.countEvents(userId, type, action, since);
  }

  async deleteUser(userId: string): Promise<boolean> {
    const db = await this.link.db();
    const known = db.storage.hasUser(userId);
    await db.writeStorage(known ? { op: "deleteUser", userId } : undefined);
    return known;
  }

  async listUsers({ cursor, limit }: { cursor?: string | undefined; limit: number }): Promise<UserPage> {
    return (await this.link.db()).storage.listUsers(cursor, limit);
  }

  async health(): Promise<void> {
    await this.link.db();
  }

  close(): Promise<void> {
    return this.link.close();
  }
}
