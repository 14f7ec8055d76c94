// Hash routes (#/sites/x): the hub serves one page and needs no fallback routes.

import { useEffect, useState } from 'preact/hooks';

export type Route =
  | { readonly page: 'overview'; readonly view: 'map' | 'list' }
  | { readonly page: 'site'; readonly site: string }
  | { readonly page: 'node'; readonly site: string; readonly node: string }
  | { readonly page: 'zone'; readonly zone: string }
  | { readonly page: 'alerts' }
  | { readonly page: 'actions'; readonly query: URLSearchParams }
  | { readonly page: 'audit' }
  | { readonly page: 'registrations' }
  | { readonly page: 'config'; readonly query: URLSearchParams }
  | { readonly page: 'config-node'; readonly site: string; readonly node: string }
  | { readonly page: 'missing'; readonly path: string };

export function parseRoute(hash: string): Route {
  const raw = hash.replace(/^#/, '') || '/';
  const [path = '/', search = ''] = raw.split('?');
  const parts = path
    .split('/')
    .filter((p) => p !== '')
    .map(decodeURIComponent);
  const query = new URLSearchParams(search);
  if (parts.length === 0) return { page: 'overview', view: query.get('view') === 'list' ? 'list' : 'map' };
  if (parts[0] === 'sites' && parts.length === 2) return { page: 'site', site: parts[1] as string };
  if (parts[0] === 'nodes' && parts.length === 3) return { page: 'node', site: parts[1] as string, node: parts[2] as string };
  if (parts[0] === 'zones' && parts.length === 2) return { page: 'zone', zone: parts[1] as string };
  if (parts[0] === 'alerts' && parts.length === 1) return { page: 'alerts' };
  if (parts[0] === 'actions' && parts.length === 1) return { page: 'actions', query };
  if (parts[0] === 'audit' && parts.length === 1) return { page: 'audit' };
  if (parts[0] === 'registrations' && parts.length === 1) return { page: 'registrations' };
  if (parts[0] === 'config' && parts.length === 1) return { page: 'config', query };
  if (parts[0] === 'config' && parts[1] === 'nodes' && parts.length === 4)
    return { page: 'config-node', site: parts[2] as string, node: parts[3] as string };
  return { page: 'missing', path };
}

export function siteHref(site: string): string {
  return `#/sites/${encodeURIComponent(site)}`;
}

export function nodeHref(site: string, node: string): string {
  return `#/nodes/${encodeURIComponent(site)}/${encodeURIComponent(node)}`;
}

export function zoneHref(zone: string): string {
  return `#/zones/${encodeURIComponent(zone)}`;
}

/** The provenance view of a node's effective config. */
export function configNodeHref(site: string, node: string): string {
  return `#/config/nodes/${encodeURIComponent(site)}/${encodeURIComponent(node)}`;
}

export function useRoute(): Route {
  const [route, setRoute] = useState(() => parseRoute(location.hash));
  useEffect(() => {
    const on = () => setRoute(parseRoute(location.hash));
    addEventListener('hashchange', on);
    return () => removeEventListener('hashchange', on);
  }, []);
  return route;
}
