/**
 * The layering, checked by `npm run deps`: shared/ is the base and imports nothing above it;
 * services/ and workers/ sit on shared/; bin/ on top. The store engine is a library the HTTP
 * layer wraps, so it knows nothing of the HTTP layer or of the other services. Tests may import
 * anything. No import cycles anywhere.
 */
/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    {
      name: 'shared-imports-upwards',
      comment: 'shared/ is the base layer: it imports nothing from services/, workers/, bin/, bench/ or scripts/.',
      severity: 'error',
      from: { path: '^shared/' },
      to: { path: '^(services|workers|bin|bench|scripts)/' },
    },
    {
      name: 'engine-imports-http',
      comment: 'The store engine is a library: the REST layer wraps it, never the other way round.',
      severity: 'error',
      from: { path: '^services/store/engine/' },
      to: { path: '^services/store/http/' },
    },
    {
      name: 'engine-imports-other-services',
      comment: 'The store engine depends on shared/ only, not on the query service, the producers or the scheduler.',
      severity: 'error',
      from: { path: '^services/store/engine/' },
      to: { path: '^services/', pathNot: '^services/store/engine/' },
    },
    {
      name: 'services-import-bin',
      comment: 'bin/ is the top layer: services/ and workers/ never import it.',
      severity: 'error',
      from: { path: '^(services|workers)/' },
      to: { path: '^bin/' },
    },
    {
      name: 'no-cycles',
      comment: 'An import cycle makes load order matter and the two modules one.',
      severity: 'error',
      from: {},
      to: { circular: true },
    },
    {
      name: 'no-unresolvable',
      comment: 'An import that resolves to nothing fails at run time.',
      severity: 'error',
      from: {},
      to: { couldNotResolve: true },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '^(node_modules|models|appendonlydir)/' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: { exportsFields: ['exports'], conditionNames: ['import', 'require', 'node', 'default', 'types'], mainFields: ['module', 'main', 'types', 'typings'] },
    reporterOptions: {
      dot: {
        collapsePattern: '^(node_modules/[^/]+|shared/[^/]+|services/[^/]+|workers/[^/]+|bin/[^/]+|bench/[^/]+|scripts/[^/]+)',
      },
    },
  },
};
