// The operator console: boots the store and the live feed, and renders the page the hash names.
// The node and zone pages (and uPlot with them) load on demand so the overview stays light.

import './styles.css';
import type { FunctionComponent } from 'preact';
import { render } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { Shell } from './components/shell.js';
import { ActionsPage } from './pages/actions/actions-page.js';
import { AlertsPage } from './pages/alerts/alerts-page.js';
import { AuditPage } from './pages/audit/audit-page.js';
import { OverviewPage } from './pages/overview/overview-page.js';
import { RegistrationsPage } from './pages/registrations/registrations-page.js';
import { SitePage } from './pages/sites/site-page.js';
import { type Route, useRoute } from './router.js';
import { connectLive, loadConsoleInfo, loadMe, startPolling } from './store.js';

type NodePageProps = { site: string; node: string };
type ZonePageProps = { zone: string };

/** A page in its own chunk (uPlot with it), loaded the first time it is shown. */
function lazyPage<P extends object>(load: () => Promise<FunctionComponent<P>>, what: string): FunctionComponent<P> {
  let Loaded: FunctionComponent<P> | undefined;
  return function LazyPage(props: P) {
    const [, setLoaded] = useState(Loaded !== undefined);
    const [error, setError] = useState<string | null>(null);
    useEffect(() => {
      if (Loaded !== undefined) return;
      load().then(
        (c) => {
          Loaded = c;
          setLoaded(true);
        },
        (err: unknown) => setError(`could not load the ${what}: ${String(err)}`),
      );
    }, []);
    if (error !== null) return <p class="error-line">{error}</p>;
    if (Loaded === undefined) return <p class="muted">Loading…</p>;
    return <Loaded {...props} />;
  };
}

const LazyNodePage = lazyPage<NodePageProps>(() => import('./pages/nodes/node-page.js').then((m) => m.NodePage), 'node page');
const LazyConfigPage = lazyPage<{ query: URLSearchParams }>(
  () => import('./pages/config/config-page.js').then((m) => m.ConfigPage),
  'configuration page',
);
const LazyProvenancePage = lazyPage<NodePageProps>(
  () => import('./pages/config/provenance-page.js').then((m) => m.ProvenancePage),
  'provenance view',
);
const LazyZonePage = lazyPage<ZonePageProps>(() => import('./pages/zones/zone-page.js').then((m) => m.ZonePage), 'zone page');

function Page({ route }: { route: Route }) {
  switch (route.page) {
    case 'overview':
      return <OverviewPage view={route.view} />;
    case 'site':
      return <SitePage site={route.site} />;
    case 'node':
      return <LazyNodePage key={`${route.site}/${route.node}`} site={route.site} node={route.node} />;
    case 'zone':
      return <LazyZonePage key={route.zone} zone={route.zone} />;
    case 'alerts':
      return <AlertsPage />;
    case 'actions':
      return <ActionsPage query={route.query} />;
    case 'audit':
      return <AuditPage />;
    case 'registrations':
      return <RegistrationsPage />;
    case 'config':
      return <LazyConfigPage query={route.query} />;
    case 'config-node':
      return <LazyProvenancePage key={`${route.site}/${route.node}`} site={route.site} node={route.node} />;
    case 'missing':
      return (
        <section>
          <h1>Not found</h1>
          <p>
            No page at <code>#{route.path}</code>. <a href="#/">Back to the overview</a>.
          </p>
        </section>
      );
  }
}

function App() {
  const route = useRoute();
  useEffect(() => {
    scrollTo(0, 0);
    const names: Record<Route['page'], string> = {
      overview: 'Overview',
      site: 'Site',
      node: 'Node',
      zone: 'Zone',
      alerts: 'Alerts',
      actions: 'Actions',
      audit: 'Audit',
      registrations: 'Registrations',
      config: 'Configuration',
      'config-node': 'Effective config',
      missing: 'Not found',
    };
    const detail =
      route.page === 'site'
        ? ` ${route.site}`
        : route.page === 'node' || route.page === 'config-node'
          ? ` ${route.site}/${route.node}`
          : route.page === 'zone'
            ? ` ${route.zone}`
            : '';
    document.title = `${names[route.page]}${detail} · fieldmesh`;
  }, [route]);
  return (
    <Shell route={route}>
      <Page route={route} />
    </Shell>
  );
}

const root = document.getElementById('app');
if (root !== null) {
  root.textContent = '';
  render(<App />, root);
}
// The feed's snapshot triggers the first fetch of sites, alerts and the overview.
connectLive();
void loadMe();
void loadConsoleInfo();
startPolling();
