import { type Static, Type } from '@sinclair/typebox';
import { S3Prefix, S3Uri } from '../common.js';

/** One output image. Without width and height the image keeps its size and only changes format. */
export const ImageVariant = Type.Object(
  {
    /** Unique within the task; the output key is `<destination><name>.<ext>`. */
    name: Type.String({ pattern: '^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$' }),
    width: Type.Optional(Type.Integer({ minimum: 1, maximum: 16384 })),
    height: Type.Optional(Type.Integer({ minimum: 1, maximum: 16384 })),
    fit: Type.Optional(
      Type.Union(
        [
          Type.Literal('cover'),
          Type.Literal('contain'),
          Type.Literal('fill'),
          Type.Literal('inside'),
          Type.Literal('outside'),
        ],
        { default: 'inside' },
      ),
    ),
    format: Type.Union([Type.Literal('jpeg'), Type.Literal('png'), Type.Literal('webp'), Type.Literal('avif')]),
    quality: Type.Optional(Type.Integer({ minimum: 1, maximum: 100 })),
    /** Never upscale a smaller source (default true). */
    withoutEnlargement: Type.Optional(Type.Boolean({ default: true })),
    /** Fill colour for `contain` and for formats without alpha, `#rrggbb`. */
    background: Type.Optional(Type.String({ pattern: '^#[0-9a-fA-F]{6}$' })),
  },
  { additionalProperties: false },
);
export type ImageVariant = Static<typeof ImageVariant>;

/** `process_image` v1: read `source`, write each variant under `destination`. */
export const ProcessImageV1 = Type.Object(
  {
    source: S3Uri,
    destination: S3Prefix,
    variants: Type.Array(ImageVariant, { minItems: 1, maxItems: 20 }),
    /** Rotate by the EXIF orientation (default true). */
    autoOrient: Type.Optional(Type.Boolean({ default: true })),
    /** Keep EXIF/XMP/GPS metadata in outputs (default false: stripped). */
    keepMetadata: Type.Optional(Type.Boolean({ default: false })),
  },
  { additionalProperties: false, title: 'process_image payload, version 1' },
);
export type ProcessImageV1 = Static<typeof ProcessImageV1>;
