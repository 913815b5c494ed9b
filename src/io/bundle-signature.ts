// Ed25519 signatures over a bundle's SHA256SUMS: the one file that vouches for every other. Node's crypto signs; the
// target verifies with `openssl pkeyutl` (no Node there), so the signature is the raw 64 bytes openssl expects.

import { createPrivateKey, createPublicKey, generateKeyPairSync, sign, verify } from 'node:crypto';
import { KfbundleError } from '../core/errors.js';

export interface SigningKeys {
  privateKeyPem: string;
  publicKeyPem: string;
}

export function generateSigningKeys(): SigningKeys {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  return {
    privateKeyPem: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
    publicKeyPem: publicKey.export({ type: 'spki', format: 'pem' }).toString(),
  };
}

/** @throws KfbundleError SIGNATURE_INVALID when the key is not an Ed25519 private key. */
export function signBytes(data: Buffer, privateKeyPem: string, keyName: string): Buffer {
  let key;
  try {
    key = createPrivateKey(privateKeyPem);
  } catch (error) {
    throw new KfbundleError('SIGNATURE_INVALID', `${keyName} is not a private key: ${(error as Error).message}`, {
      hint: 'pass the private key kfbundle keygen wrote (PEM, PKCS#8), or make one with kfbundle keygen',
      cause: error,
    });
  }
  if (key.asymmetricKeyType !== 'ed25519') {
    throw new KfbundleError('SIGNATURE_INVALID', `${keyName} is a ${key.asymmetricKeyType} key; kfbundle signs with Ed25519`, { hint: 'make an Ed25519 key pair with kfbundle keygen' });
  }
  return sign(null, data, key);
}

/** @throws KfbundleError SIGNATURE_INVALID when the key is not an Ed25519 public key. */
export function verifyBytes(data: Buffer, signature: Buffer, publicKeyPem: string, keyName: string): boolean {
  let key;
  try {
    key = createPublicKey(publicKeyPem);
  } catch (error) {
    throw new KfbundleError('SIGNATURE_INVALID', `${keyName} is not a public key: ${(error as Error).message}`, {
      hint: 'pass the public key kfbundle keygen wrote beside the private one (PEM, SPKI)',
      cause: error,
    });
  }
  if (key.asymmetricKeyType !== 'ed25519') {
    throw new KfbundleError('SIGNATURE_INVALID', `${keyName} is a ${key.asymmetricKeyType} key; kfbundle signs with Ed25519`, { hint: 'ask the builders for their kfbundle public key (Ed25519)' });
  }
  return verify(null, data, key, signature);
}
