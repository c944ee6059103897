// The gateway's session API (Pipecat's `POST /start`), called from the page's own origin: in
// the dev stack the browser's HttpOnly cookie stands in for the API key, which stays server-side.
// The page posts it itself rather than through the SDK's startBot(), which reports a refusal by
// its HTTP status text (it reads `info`/`detail`) and would lose the gateway's own message.

export type TransportChoice = "webrtc" | "daily";

export interface Started {
  sessionId: string;
  iceConfig?: { iceServers?: RTCIceServer[] };
  dailyRoom?: string;
  dailyToken?: string;
}

export class ApiFailure extends Error {}

/** The gateway's `{"error": {"message"}}`, or the status when the body says nothing. */
async function failure(response: Response, doing: string): Promise<ApiFailure> {
  let detail = `${response.status} ${response.statusText}`.trim();
  try {
    const body: unknown = await response.json();
    const message = (body as { error?: { message?: unknown } }).error?.message;
    if (typeof message === "string") detail = message;
  } catch {
    // Not JSON: the status is all there is.
  }
  return new ApiFailure(`${doing}: ${detail}`);
}

export async function startSession(
  transport: TransportChoice,
  body: Record<string, string>,
): Promise<Started> {
  // A Daily session gets a fresh room from the gateway (it holds the Daily key).
  const request = transport === "daily" ? { createDailyRoom: true, body } : { transport, body };
  const response = await fetch("/start", {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify(request),
  });
  if (!response.ok) throw await failure(response, "the gateway refused the call");
  const started = (await response.json()) as Started;
  if (typeof started.sessionId !== "string") throw new ApiFailure("the gateway sent no session id");
  return started;
}

export function offerUrl(sessionId: string): string {
  return `/sessions/${encodeURIComponent(sessionId)}/api/offer`;
}

/** Ends the session server-side too, so a Daily bot leaves its room at once. */
export async function endSession(sessionId: string): Promise<void> {
  const response = await fetch(`/sessions/${encodeURIComponent(sessionId)}`, { method: "DELETE" });
  if (!response.ok && response.status !== 404) throw await failure(response, "ending the session");
}
