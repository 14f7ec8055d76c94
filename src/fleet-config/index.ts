// The fleet as code: a configuration repository (a plain folder, or the seed's fleet-config/ and
// site-config-<site>/ pair) merged per node in the order fleet, zone, site, node, with explicit list
// semantics (!replace, !append, !merge), provenance for every leaf, validation by the node's own schema
// and a content address per node. docs/config-as-code.md.
//
// Use:
//   const repo = loadConfigRepo(dir);                 // or parseConfigRepo(files, label) from a git tree
//   const { problems, nodes } = validateConfigRepo(repo);   // every problem, every node rendered
//   const one = renderNode(repo, 'r1');               // {config, parsed, provenance, configHash, problems}
//   renderAllNodes(repo);                             // what diff / plan / the hub's distribution use
//   fleetSitesAndZones(repo);                         // the sites and consensus zones the hub watches

export { checkAlertRuleFile } from './alert-files.js';
export { renderAnnotatedYaml } from './annotate.js';
export {
  diffConfig,
  diffRenderedNodes,
  flattenConfig,
  formatValue,
  type LeafChange,
  type NodeDiff,
} from './diff.js';
export { type FleetConsensusZone, type FleetSitesAndZones, fleetSitesAndZones } from './fleet-sites-and-zones.js';
export {
  type ConfigSource,
  describeSource,
  isGitWorkTree,
  loadSource,
  readGitRevisionFiles,
  readSourceFiles,
} from './git-revision.js';
export {
  estimateLinkCost,
  type LinkCost,
  type LinkCostOptions,
  mqttPublishBytes,
  type SeriesCost,
  type SeriesProfile,
} from './link-cost.js';
export { type ApplyMode, LIVE_KEYS, liveOrRestart } from './live-keys.js';
export { DELETE_KEY, identityKeyOf, LIST_IDENTITY_KEYS, mergeLayers, mergeTrees } from './merge.js';
export {
  type AlertFileValidator,
  type ConfigRepoValidation,
  formatProblem,
  hashConfig,
  nodeLayers,
  renderAllNodes,
  renderNode,
  renderValidConfigRepo,
  type ValidateOptions,
  validateConfigRepo,
  zonesOfNode,
} from './render.js';
export {
  type ConfigRepo,
  type ConfigRepoLayout,
  type ConsensusZoneEntry,
  detectLayout,
  type LayerFile,
  loadConfigRepo,
  type NodeEntry,
  parseConfigRepo,
  readConfigRepoFiles,
  SITE_METADATA_KEYS,
} from './repo.js';
export { formatPath, leaves, parseConfigFile, type Tree, toPlain } from './tree.js';
export * from './types.js';
