// The tests' single entry point to @peculiar/x509, an independent oracle for src/pki's own DER.
// The library resolves its services with tsyringe, which needs the `reflect-metadata` polyfill
// loaded first; importing x509 from here guarantees that order.
//
//   import { x509 } from '../helpers/peculiar.ts';
//   const csr = new x509.Pkcs10CertificateRequest(der);
import 'reflect-metadata';
import * as x509 from '@peculiar/x509';

export { x509 };
