// fhir-client.mjs reads a FHIR R4 server with the third-party client
// fhir-kit-client, as an EHR or app would, and prints what it read as JSON:
//   node fhir-client.mjs --base URL --token TOKEN --identifier SYS|VALUE [--count N]
// It reads the CapabilityStatement, searches DiagnosticReport by identifier
// with _include of its results and subject, reads the report by id, and
// follows next links of an Observation search to the end.
import { Client } from 'fhir-kit-client';

function arg(name, def) {
  const i = process.argv.indexOf('--' + name);
  return i >= 0 ? process.argv[i + 1] : def;
}

const client = new Client({ baseUrl: arg('base'), bearerToken: arg('token') });
const out = {};
try {
  const cap = await client.capabilityStatement();
  out.fhirVersion = cap.fhirVersion;
  out.types = cap.rest[0].resource.map((r) => r.type);

  const found = await client.search({
    resourceType: 'DiagnosticReport',
    searchParams: { identifier: arg('identifier'), _include: ['DiagnosticReport:result', 'DiagnosticReport:subject'] },
  });
  out.searchTotal = found.total;
  out.searchEntries = (found.entry || []).map((e) => `${e.search.mode} ${e.resource.resourceType}`);

  const report = (found.entry || []).find((e) => e.search.mode === 'match');
  if (report) {
    const read = await client.read({ resourceType: 'DiagnosticReport', id: report.resource.id });
    out.readId = read.id;
    out.readVersion = read.meta.versionId;
  }

  const pages = [];
  let page = await client.search({ resourceType: 'Observation', searchParams: { _count: arg('count', '2') } });
  while (page) {
    pages.push((page.entry || []).length);
    page = await client.nextPage({ bundle: page });
  }
  out.observationPages = pages;
  out.observationTotal = pages.reduce((a, b) => a + b, 0);
  console.log(JSON.stringify(out));
} catch (err) {
  const status = err.response ? err.response.status : 0;
  console.error(`fhir-client: ${status} ${err.message} ${err.response ? JSON.stringify(err.response.data) : ''}`);
  process.exit(1);
}
