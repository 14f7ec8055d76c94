// Password hashing: scrypt round trip, wrong passwords, per-hash salts, unreadable hashes, length rules.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isFieldmeshError } from '../../kit/index.js';
import { checkPasswordRules, hashPassword, verifyAgainstNothing, verifyPassword } from './password.js';

test('password: a hash verifies its password and refuses another', async () => {
  const hash = await hashPassword('correct horse battery');
  assert.match(hash, /^scrypt\$n=32768,r=8,p=3\$[A-Za-z0-9+/=]{24}\$[A-Za-z0-9+/=]{44}$/);
  assert.equal(await verifyPassword('correct horse battery', hash), true);
  assert.equal(await verifyPassword('correct horse batterY', hash), false);
  assert.equal(await verifyPassword('', hash), false);
});

test('password: the same password hashes differently each time (a salt per hash), and both verify', async () => {
  const [a, b] = await Promise.all([hashPassword('same password'), hashPassword('same password')]);
  assert.notEqual(a, b);
  assert.equal(await verifyPassword('same password', a), true);
  assert.equal(await verifyPassword('same password', b), true);
});

test('password: composed and precomposed Unicode are the same password (NFC)', async () => {
  const hash = await hashPassword('caf\u00e9 au lait');
  assert.equal(await verifyPassword('cafe\u0301 au lait', hash), true);
});

test('password: an unreadable or absurd hash never verifies', async () => {
  for (const stored of ['', 'plain', 'scrypt$abc$def', 'scrypt$n=1099511627776,r=8,p=1$AAAA$AAAA', 'scrypt$n=16384,r=8,p=1$AAAA$']) {
    assert.equal(await verifyPassword('anything', stored), false, stored);
  }
  assert.equal(await verifyAgainstNothing('anything'), false);
});

test('password: shorter than 8 or longer than 1024 characters is refused with FM_REQUEST_INVALID', () => {
  assert.throws(
    () => checkPasswordRules('short'),
    (e) => isFieldmeshError(e, 'FM_REQUEST_INVALID') && /at least 8/.test(e.message),
  );
  assert.throws(
    () => checkPasswordRules('x'.repeat(1_025)),
    (e) => isFieldmeshError(e, 'FM_REQUEST_INVALID'),
  );
  checkPasswordRules('eight ch');
});
