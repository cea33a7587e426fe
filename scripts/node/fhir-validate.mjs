// fhir-validate.mjs: validates FHIR R4 JSON resources with the npm package
// fhir (FHIR.js), against the R4 structure definitions it ships: element
// names (unexpected properties are errors), types, cardinalities and
// required value sets. Used by the clinomics tests as a third-party check
// of the resources and bundles we emit.
//
//   node fhir-validate.mjs [--entries] FILE...
//
// Prints one JSON line per resource validated:
//   {"file": FILE, "location": "Bundle.entry[3].resource" | "",
//    "resourceType": "...", "valid": true|false,
//    "messages": [{"severity", "location", "message"}, ...]}
// With --entries, each Bundle entry's resource is also validated on its
// own (FHIR.js reports entry errors inside the bundle's result too; this
// names them by entry). Messages of severity "info" (value sets FHIR.js
// does not ship) are left out. Exit status 0 when everything is valid, 1 when
// any resource has an error, 2 on a usage or read error.
import { readFileSync } from 'node:fs'
import { parseArgs } from 'node:util'
import fhirPkg from 'fhir'

const { Fhir } = fhirPkg
const { values: opt, positionals: files } = parseArgs({
  allowPositionals: true,
  options: { entries: { type: 'boolean', default: false } }
})
if (files.length === 0) {
  console.error('usage: node fhir-validate.mjs [--entries] FILE...')
  process.exit(2)
}

const fhir = new Fhir()
let failed = false

function check (file, location, resource) {
  const result = fhir.validate(resource, { errorOnUnexpected: true })
  // 'info' messages (value sets FHIR.js does not ship) are left out.
  const messages = (result.messages || []).filter(m => m.severity !== 'info').map(m => ({
    severity: m.severity, location: m.location, message: m.message
  }))
  const valid = result.valid && !messages.some(m => m.severity === 'error')
  if (!valid) failed = true
  console.log(JSON.stringify({ file, location, resourceType: resource && resource.resourceType, valid, messages }))
}

for (const file of files) {
  let resource
  try {
    resource = JSON.parse(readFileSync(file, 'utf8'))
  } catch (err) {
    console.error(`${file}: ${err.message}`)
    process.exitCode = 2
    break
  }
  check(file, '', resource)
  if (opt.entries && resource.resourceType === 'Bundle') {
    (resource.entry || []).forEach((e, i) => {
      if (e.resource) check(file, `Bundle.entry[${i}].resource`, e.resource)
    })
  }
}
// exitCode, not exit(): exit() may cut off output still queued for a pipe.
if (!process.exitCode) process.exitCode = failed ? 1 : 0
