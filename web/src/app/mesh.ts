// The user's notes, applets and profile from Mesh, so the page shows state and not only the
// events since it opened. The page never holds a Mesh token: it asks its own origin
// (`/mesh/graphql`, the dev stack's proxy), which adds the identity server-side, scoped like the
// bot's: the tenant from the API key, the user the session is for.

import type { AppletRef, Note, Profile } from "./events";

const GRAPHQL = "/mesh/graphql";
const LOAD = `query Interface {
  notes(limit: 100) { id title content createdAt updatedAt }
  applets(limit: 100) { id title }
  profile { userId displayName preferences }
}`;

export interface Snapshot {
  notes: Note[];
  applets: AppletRef[];
  profile: Profile;
}

export class MeshError extends Error {}

export class MeshReader {
  constructor(readonly user: string) {}

  async load(): Promise<Snapshot> {
    return this.query<Snapshot>(LOAD);
  }

  /** Where the sandboxed frame loads an applet from (served with a CSP that blocks network). */
  appletUrl(id: string): string {
    return `/mesh/applets/${encodeURIComponent(id)}?user=${encodeURIComponent(this.user)}`;
  }

  private async query<T>(query: string, variables: Record<string, unknown> = {}): Promise<T> {
    const response = await fetch(GRAPHQL, {
      method: "POST",
      headers: { "Content-Type": "application/json", "X-Voicefleet-User": this.user },
      body: JSON.stringify({ query, variables }),
    });
    let body: { data?: T; errors?: { message?: string }[]; error?: { message?: string } };
    try {
      body = await response.json();
    } catch {
      throw new MeshError(`Mesh answered ${response.status}`);
    }
    const problem = body.errors?.[0]?.message ?? body.error?.message;
    if (!response.ok || body.data === undefined) {
      throw new MeshError(problem ?? `Mesh answered ${response.status}`);
    }
    return body.data;
  }
}
