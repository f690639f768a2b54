// The Standard Webhooks secret that signs a user's deliveries: a person's business only (session).
// Declarative data.
import { z } from 'zod';
import { nullableInstant } from './shared.ts';
import { defineOperations, type Guard } from './types.ts';

export const SigningSecret = z.strictObject({
  secret: z
    .string()
    .regex(/^whsec_/)
    .describe('Standard Webhooks secret: `whsec_` + base64 of 32 bytes'),
  previous_secret: z.string().nullable().describe('still signs deliveries until previous_valid_until'),
  previous_valid_until: nullableInstant,
});

export const signingSecretSchemas = { SigningSecret };

/** Every request under /v1/signing-secret needs a session, known route or not. */
export const signingSecretGuards: Guard[] = [{ prefix: '/v1/signing-secret', access: 'session' }];

const example = {
  secret: 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw+Q9gPbwCjl0=',
  previous_secret: null,
  previous_valid_until: null,
} satisfies z.output<typeof SigningSecret>;

export const signingSecretOperations = defineOperations({
  getSigningSecret: {
    method: 'get',
    path: '/v1/signing-secret',
    tag: 'signing-secret',
    summary: 'The Standard Webhooks secret that signs your deliveries',
    access: { kind: 'session' },
    responses: {
      200: {
        description: 'the current secret, and the previous one during rotation',
        schema: SigningSecret,
        headers: ['Cache-Control'],
        example,
      },
    },
  },
  rotateSigningSecret: {
    method: 'post',
    path: '/v1/signing-secret/rotate',
    tag: 'signing-secret',
    summary: 'Rotate the signing secret',
    description: 'The previous secret keeps signing (alongside the new one) for 24 hours.',
    access: { kind: 'session' },
    responses: {
      200: {
        description: 'the new secret and the previous one',
        schema: SigningSecret,
        headers: ['Cache-Control'],
        example: {
          ...example,
          previous_secret: 'whsec_0Bq6Xh9y1kG3vT8mWc2pR7sLzN4aEoF5dUiJ0HbKqYs=',
          previous_valid_until: '2026-11-25T08:00:00.000Z',
        },
      },
    },
  },
});
