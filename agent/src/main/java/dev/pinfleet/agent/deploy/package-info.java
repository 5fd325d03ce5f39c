/**
 * A node deploy and the releases it leaves: {@link dev.pinfleet.agent.deploy.DeployEngine} runs one deploy at a
 * time as a sequence of steps, each of which decides what it will do in one place (used by the Plan RPC too) and
 * then does it.
 *
 * <pre>
 *  Deploy(envelope, deploy_id)
 *      │
 *      ▼
 *   VERIFY ── signatures, manifest, expiry, environment, Python, hooks;          VerifyStep
 *      │      root safe; state and `current` read; serial fresh
 *      ▼
 *   PLAN ──── directories writable; DeployPlan: unchanged? built already?        PlanStep
 *      │      artifacts needed, those missing from the store (fetch)
 *      ▼
 *   FETCH ─── the missing ones into the store, sha256 and size checked           FetchStep
 *      ▼
 *   INSTALL ─ build .staging-ID, write the signed manifest, rename to ID         InstallStep
 *      ▼
 * ══ SWITCH ══ state records serial + release, then `current` → ID               SwitchStep
 *      │        (the point of no return: a stop is no longer honoured)
 *      ├───────────── unchanged ───────────────────────────────────┐
 *      ▼                                                           │
 *   HOOK ──── manifest's post_switch_hook (when it has one)  ─ fails ─┐          PostSwitchStep
 *      ▼                                                           │  │
 *   HEALTH ── manifest's health_check (when it has one)  ─── fails ───┤
 *      ▼                                                           │  ▼
 *   clean-up: Releases.doomed → trash, prune store and cache       │  REVERT: `current` → previous release
 *      ▼                                                           │  (or removed), state REVERTED, serial
 *   state settled (releases listed) ◀──────────────────────────────┘  kept, previous release's hook again
 *      ▼                                                                 ▼
 *   report OK | UNCHANGED                                            report REVERTED (HOOK_FAILED | HEALTH_FAILED)
 *
 *   any failure before SWITCH ─▶ FAILED with a typed reason: `current` unchanged, the staging directory and the
 *                                early unpacks removed, the failure recorded in the app's state (not when the
 *                                root is unsafe: then nothing is written)
 *
 *   stop (shutdown or Cancel) ─▶ StopGate: VERIFY, PLAN, FETCH are interrupted at once (downloads cancelled, temp
 *                                files removed); an INSTALL in progress completes (its release stays, not current);
 *                                as the next phase up to SWITCH begins, the deploy ends FAILED with reason ABORTED
 *                                or CANCELLED. Once SWITCH has begun the deploy finishes as above.
 * </pre>
 *
 * <p>A crash at any point leaves `current` on the old or the complete new release; {@link
 * dev.pinfleet.agent.deploy.Recovery} cleans half-built releases at start, and the same signed manifest sent again
 * completes a switch the crash cut short. Each app's state ({@link dev.pinfleet.agent.deploy.StateStore}: serial,
 * release, the recent attempts with their deploy ids and times) is the agent's own record, mapped to the Status
 * RPC's reply in {@link dev.pinfleet.agent.deploy.AppQueries}.
 *
 * <p>The fleet simulator's hollow nodes ({@code dev.pinfleet.agent.sim}) run this engine with a {@link
 * dev.pinfleet.agent.deploy.StandIn} in place of FETCH's downloads and INSTALL's build; every other step is the same.
 */
package dev.pinfleet.agent.deploy;
