// The named fault injections of the simulated charger's OCPP side (rigs/virtual/README.md, "Fault
// injections"): each makes the charger break exactly one rule so a bench suite can be shown to catch
// it. A fault is off unless selected in the rig file (`simulator.options.faults`, whose schema in
// rigs/virtual/index.ts refuses an unknown name, listing the valid ones).
//
//   new VirtualCharger({ ..., faults: ['no-backoff'] });   // the charger keeps them as a ReadonlySet<FaultName>
//   if (faults.has('no-backoff')) ...

export const FAULT_DESCRIPTIONS = {
  'regular-authorize-for-pnc': 'sends OCPP 1.6 Authorize (idTag = eMAID) instead of DataTransfer Authorize',
  'offline-charging-without-validation': 'charges offline although ContractValidationOffline is false',
  'accept-wrong-chain': 'accepts a CertificateSigned chain that does not chain to its V2G root',
  'no-backoff': 'resends SignCertificate at once (100 ms) instead of waiting CertSigningWaitMinimum',
  'wrong-vendor-id': 'uses vendorId org.openchargealliance.iso15118 for PnC messages it sends',
  'idtag-not-emaid': 'StartTransaction idTag is PNC-<first 10 of eMAID>',
  'delete-last-root': 'DeleteCertificate of the last V2G root answers Accepted and deletes it',
  'ocsp-data-missing': 'Authorize without iso15118CertificateHashData (only idToken)',
  'hash-uppercase': 'hash data with upper-case issuerNameHash/issuerKeyHash',
  'serial-decimal': 'serialNumber in decimal instead of hex',
  'session-id-changed': 'forwards exiResponse to the EV with a changed SessionID',
  'central-validation-ignored': 'sends the certificate although CentralContractValidationAllowed is false',
  'installed-ids-omitted-type-notfound': 'GetInstalledCertificateIds without certificateType → NotFound',
  'accept-non-root-install': 'InstallCertificate accepts a sub-CA certificate',
  'meter-stop-mismatch': 'StopTransaction meterStop 5 % above the meter',
} as const;

export type FaultName = keyof typeof FAULT_DESCRIPTIONS;

export const FAULT_NAMES: readonly FaultName[] = Object.freeze(Object.keys(FAULT_DESCRIPTIONS) as FaultName[]);
