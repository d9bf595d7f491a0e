// The bench PKI's roles and their certificate profile (reference/exi-and-pki.md §4): who issues
// whom, subject CN and DC, CA flag and pathLen, key usage, validity, OCSP AIA. One table drives
// generation (src/pki/hierarchy.ts), `pki show`, the docs and the profile checks of validation.
//
//   ROLE_PROFILES['cpo-sub2'] // { issuer: 'cpo-sub1', commonName: 'CPOSubCA2', domainComponent: 'V2G', ca: true, pathLen: 0, ... }
import type { KeyUsageType } from './x509.ts';
import { OID } from './x509.ts';

export const PKI_ROLES = [
  'v2g-root',
  'cpo-sub1',
  'cpo-sub2',
  'secc-leaf',
  'cps-sub1',
  'cps-sub2',
  'cps-leaf',
  'mo-root',
  'mo-sub1',
  'mo-sub2',
  'contract',
  'oem-root',
  'oem-sub1',
  'oem-sub2',
  'oem-prov',
  'csms-ca',
  'csms-server-ecdsa',
  'csms-server-rsa',
] as const;

export type PkiRole = (typeof PKI_ROLES)[number];

export type DomainComponent = 'V2G' | 'CPO' | 'CPS' | 'MO' | 'OEM';

export interface RoleProfile {
  readonly role: PkiRole;
  /** Issuing role; null for a self-signed root. */
  readonly issuer: PkiRole | null;
  /** Subject CN. The contract's CN is the eMAID (set at generation). */
  readonly commonName: string;
  /** Subject DC tagging the PKI branch (ISO 15118); none for the CSMS (OCPP security) branch. */
  readonly domainComponent: DomainComponent | undefined;
  readonly ca: boolean;
  readonly pathLen: number | undefined;
  readonly keyUsage: readonly KeyUsageType[];
  readonly extKeyUsage: readonly string[] | undefined;
  readonly validityDays: number;
  readonly keyType: 'ec-p256' | 'rsa-2048';
  /** Gets an authorityInfoAccess OCSP URL when the PKI has one configured. */
  readonly ocsp: boolean;
  /** Gets subjectAltName DNS/IP entries (TLS server certificates). */
  readonly serverNames: boolean;
  readonly description: string;
}

const CA_USAGE: readonly KeyUsageType[] = ['keyCertSign', 'crlSign'];

function p(role: PkiRole, x: Omit<RoleProfile, 'role' | 'extKeyUsage' | 'keyType' | 'serverNames' | 'pathLen'> & Partial<Pick<RoleProfile, 'extKeyUsage' | 'keyType' | 'serverNames' | 'pathLen'>>): RoleProfile {
  return { role, extKeyUsage: undefined, keyType: 'ec-p256', serverNames: false, pathLen: undefined, ...x };
}

/** The profile of every role, in issuing order (an issuer always comes before its subjects). */
export const ROLE_PROFILES: Readonly<Record<PkiRole, RoleProfile>> = {
  'v2g-root': p('v2g-root', { issuer: null, commonName: 'V2GRootCA', domainComponent: 'V2G', ca: true, keyUsage: CA_USAGE, validityDays: 3650, ocsp: false, description: 'V2G root CA (trust anchor of SECC and CPS chains)' }),
  'cpo-sub1': p('cpo-sub1', { issuer: 'v2g-root', commonName: 'CPOSubCA1', domainComponent: 'V2G', ca: true, pathLen: 1, keyUsage: CA_USAGE, validityDays: 1460, ocsp: true, description: 'CPO Sub-CA 1' }),
  'cpo-sub2': p('cpo-sub2', { issuer: 'cpo-sub1', commonName: 'CPOSubCA2', domainComponent: 'V2G', ca: true, pathLen: 0, keyUsage: CA_USAGE, validityDays: 365, ocsp: true, description: 'CPO Sub-CA 2 (signs SECC leaf certificates and V2G CSRs)' }),
  'secc-leaf': p('secc-leaf', { issuer: 'cpo-sub2', commonName: 'SECCCert', domainComponent: 'CPO', ca: false, keyUsage: ['digitalSignature', 'keyAgreement'], validityDays: 60, ocsp: true, description: 'SECC leaf (charger ISO 15118 TLS server)' }),
  'cps-sub1': p('cps-sub1', { issuer: 'v2g-root', commonName: 'CPSSubCA1', domainComponent: 'CPS', ca: true, pathLen: 1, keyUsage: CA_USAGE, validityDays: 1460, ocsp: false, description: 'CPS (provisioning) Sub-CA 1' }),
  'cps-sub2': p('cps-sub2', { issuer: 'cps-sub1', commonName: 'CPSSubCA2', domainComponent: 'CPS', ca: true, pathLen: 0, keyUsage: CA_USAGE, validityDays: 730, ocsp: false, description: 'CPS Sub-CA 2' }),
  'cps-leaf': p('cps-leaf', { issuer: 'cps-sub2', commonName: 'CPSLeaf', domainComponent: 'CPS', ca: false, keyUsage: ['digitalSignature'], validityDays: 90, ocsp: false, description: 'CPS leaf (signs CertificateInstallationRes)' }),
  'mo-root': p('mo-root', { issuer: null, commonName: 'MORootCA', domainComponent: 'MO', ca: true, keyUsage: CA_USAGE, validityDays: 3650, ocsp: false, description: 'Mobility operator root CA' }),
  'mo-sub1': p('mo-sub1', { issuer: 'mo-root', commonName: 'MOSubCA1', domainComponent: 'MO', ca: true, pathLen: 1, keyUsage: CA_USAGE, validityDays: 1460, ocsp: true, description: 'MO Sub-CA 1' }),
  'mo-sub2': p('mo-sub2', { issuer: 'mo-sub1', commonName: 'MOSubCA2', domainComponent: 'MO', ca: true, pathLen: 0, keyUsage: CA_USAGE, validityDays: 730, ocsp: true, description: 'MO Sub-CA 2 (signs contract certificates)' }),
  contract: p('contract', { issuer: 'mo-sub2', commonName: '<eMAID>', domainComponent: 'MO', ca: false, keyUsage: ['digitalSignature', 'keyAgreement'], validityDays: 730, ocsp: true, description: 'Contract certificate (CN = eMAID)' }),
  'oem-root': p('oem-root', { issuer: null, commonName: 'OEMRootCA', domainComponent: 'OEM', ca: true, keyUsage: CA_USAGE, validityDays: 3650, ocsp: false, description: 'OEM root CA' }),
  'oem-sub1': p('oem-sub1', { issuer: 'oem-root', commonName: 'OEMSubCA1', domainComponent: 'OEM', ca: true, pathLen: 1, keyUsage: CA_USAGE, validityDays: 1460, ocsp: true, description: 'OEM Sub-CA 1' }),
  'oem-sub2': p('oem-sub2', { issuer: 'oem-sub1', commonName: 'OEMSubCA2', domainComponent: 'OEM', ca: true, pathLen: 0, keyUsage: CA_USAGE, validityDays: 1460, ocsp: true, description: 'OEM Sub-CA 2' }),
  'oem-prov': p('oem-prov', { issuer: 'oem-sub2', commonName: 'OEMProvCert', domainComponent: 'OEM', ca: false, keyUsage: ['digitalSignature', 'keyAgreement'], validityDays: 1460, ocsp: true, description: 'OEM provisioning certificate (EV)' }),
  'csms-ca': p('csms-ca', { issuer: null, commonName: 'CSMSRootCA', domainComponent: undefined, ca: true, pathLen: 0, keyUsage: CA_USAGE, validityDays: 3650, ocsp: false, description: 'CSMS root CA (OCPP 1.6 security: CentralSystemRootCertificate, ChargePointCertificate issuer)' }),
  'csms-server-ecdsa': p('csms-server-ecdsa', {
    issuer: 'csms-ca', commonName: 'localhost', domainComponent: undefined, ca: false, keyUsage: ['digitalSignature'], extKeyUsage: [OID.serverAuth], validityDays: 365, ocsp: false, serverNames: true, description: 'CSMS TLS server (ECDSA P-256)',
  }),
  'csms-server-rsa': p('csms-server-rsa', {
    issuer: 'csms-ca', commonName: 'localhost', domainComponent: undefined, ca: false, keyUsage: ['digitalSignature', 'keyEncipherment'], extKeyUsage: [OID.serverAuth], validityDays: 365, ocsp: false, serverNames: true, keyType: 'rsa-2048', description: 'CSMS TLS server (RSA 2048)',
  }),
};

export const ROOT_ROLES: readonly PkiRole[] = PKI_ROLES.filter((r) => ROLE_PROFILES[r].issuer === null);

export function isPkiRole(s: string): s is PkiRole {
  return (PKI_ROLES as readonly string[]).includes(s);
}

/** Validity of certificates issued from CSRs. */
export const CSR_VALIDITY_DAYS = { secc: 60, chargePoint: 365 } as const;

/** ISO 15118-2 certificateType maxLength: one certificate is at most 800 bytes of DER. */
export const MAX_CERTIFICATE_BYTES = 800;
/** ISO 15118-2 contract / SECC chains: leaf + at most 2 sub-CAs below the root. */
export const MAX_SUB_CAS = 2;
