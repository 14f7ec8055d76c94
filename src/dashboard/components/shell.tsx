// The frame of every page: title, navigation, the live-feed indicator, the user menu, the demo banner.

import type { ComponentChildren } from 'preact';
import { useState } from 'preact/hooks';
import { api, describeError } from '../api.js';
import { formatAge } from '../format.js';
import { hasRole } from '../roles.js';
import type { Route } from '../router.js';
import { useStore } from '../store.js';
import { useNow } from './ui.js';

function ConnIndicator() {
  const s = useStore();
  const now = useNow();
  const age = s.lastMessageAt === null ? null : now - s.lastMessageAt;
  const word = s.conn === 'live' ? 'live' : s.conn === 'connecting' ? 'connecting' : 'reconnecting';
  return (
    <span class={`conn ${s.conn}`} data-testid="conn" role="status" title="The live feed from the hub (/api/v1/live)">
      <span class="dot" aria-hidden="true" />
      <span class="conn-word">{word}</span>
      {age !== null && <span class="conn-age">last message {formatAge(age)}</span>}
    </span>
  );
}

function UserMenu() {
  const s = useStore();
  const [error, setError] = useState<string | null>(null);
  if (s.me === null) return null;
  const logout = async () => {
    try {
      await api.post('/api/v1/auth/logout');
      location.assign('/login');
    } catch (err) {
      setError(describeError(err));
    }
  };
  return (
    <details class="user-menu" data-testid="user-menu">
      <summary>
        {s.me.user ?? 'anonymous'} <span class="muted">({s.me.role})</span>
      </summary>
      <div class="menu">
        <p>
          Signed in as <strong>{s.me.user ?? 'anonymous'}</strong>, role <strong>{s.me.role}</strong>
          {s.me.kind === 'demo' ? ' (demo mode)' : ''}.
        </p>
        {s.me.kind === 'session' && (
          <button type="button" onClick={logout} data-testid="logout">
            Log out
          </button>
        )}
        {error !== null && <p class="error-line">{error}</p>}
      </div>
    </details>
  );
}

const NAV: ReadonlyArray<{ page: Route['page']; href: string; label: string; admin?: boolean }> = [
  { page: 'overview', href: '#/', label: 'Overview' },
  { page: 'alerts', href: '#/alerts', label: 'Alerts' },
  { page: 'actions', href: '#/actions', label: 'Actions' },
  { page: 'config', href: '#/config', label: 'Configuration' },
  { page: 'registrations', href: '#/registrations', label: 'Registrations', admin: true },
  { page: 'audit', href: '#/audit', label: 'Audit', admin: true },
];

export function Shell({ route, children }: { route: Route; children: ComponentChildren }) {
  const s = useStore();
  const title = s.console?.title ?? 'fieldmesh';
  const firing = [...s.alerts.values()].filter((a) => a.state === 'firing' && !a.silenced && !a.inhibited).length;
  const current =
    route.page === 'site' || route.page === 'node' || route.page === 'zone'
      ? 'overview'
      : route.page === 'config-node'
        ? 'config'
        : route.page;
  return (
    <>
      {s.me?.demo === true && (
        <div class="demo-banner" role="note" data-testid="demo-banner">
          <strong>Demo mode:</strong> no login, everyone on this machine is admin
          {s.me.reason !== undefined ? ` (${s.me.reason})` : ''}.
        </div>
      )}
      <header class="top">
        <a class="brand" href="#/">
          <svg width="18" height="18" viewBox="0 0 18 18" aria-hidden="true">
            <circle cx="4" cy="4" r="2.5" />
            <circle cx="14" cy="5" r="2.5" />
            <circle cx="9" cy="14" r="2.5" />
            <path d="M4 4L14 5L9 14Z" fill="none" stroke-width="1.2" />
          </svg>
          <span>{title}</span>
        </a>
        <nav aria-label="main">
          {NAV.filter((n) => !n.admin || hasRole(s.me, 'admin')).map((n) => (
            <a key={n.page} href={n.href} aria-current={current === n.page ? 'page' : undefined}>
              {n.label}
              {n.page === 'alerts' && firing > 0 && (
                <span class="count-pill" data-testid="nav-firing">
                  {firing}
                </span>
              )}
            </a>
          ))}
        </nav>
        <span class="spacer" />
        <ConnIndicator />
        <UserMenu />
      </header>
      {s.meError !== null && <p class="error-line page-error">Could not ask the hub who you are: {s.meError}</p>}
      <main id="main">{children}</main>
    </>
  );
}
