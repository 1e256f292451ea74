// Reactions by the names the API uses, and how they are shown.

/** The common reactions, by the names the API uses. */
export const EMOJI = {
  thumbsup: '\u{1F44D}',
  thumbsdown: '\u{1F44E}',
  heart: '\u{2764}\u{FE0F}',
  tada: '\u{1F389}',
  eyes: '\u{1F440}',
  joy: '\u{1F602}',
  smile: '\u{1F604}',
  slightly_smiling_face: '\u{1F642}',
  thinking_face: '\u{1F914}',
  white_check_mark: '\u{2705}',
  x: '\u{274C}',
  fire: '\u{1F525}',
  rocket: '\u{1F680}',
  pray: '\u{1F64F}',
  clap: '\u{1F44F}',
  raised_hands: '\u{1F64C}',
  wave: '\u{1F44B}',
  ok_hand: '\u{1F44C}',
  muscle: '\u{1F4AA}',
  sob: '\u{1F62D}',
  sweat_smile: '\u{1F605}',
  sunglasses: '\u{1F60E}',
  star: '\u{2B50}',
  warning: '\u{26A0}\u{FE0F}',
  bulb: '\u{1F4A1}',
  coffee: '\u{2615}',
  '100': '\u{1F4AF}',
  heavy_plus_sign: '\u{2795}',
};
/** The reactions offered on every message. */
export const QUICK_REACTIONS = ['thumbsup', 'heart', 'tada', 'eyes'];

/**
 * An emoji name as shown: the character when known, else `:name:`.
 * @param {string} name
 */
export function emoji(name) {
  return EMOJI[name] || `:${name}:`;
}
