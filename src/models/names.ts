import { invalidArgument } from '../errors.js';

/** A model name is an identifier, never a path: no separators, no `..`, nothing percent-encoded. */
const MODEL_NAME = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/;
/** Version folders and version strings are positive integers. */
const VERSION = /^[1-9][0-9]{0,9}$/;

export const isModelName = (name: string): boolean => MODEL_NAME.test(name) && !name.includes('..');
export const isVersion = (version: string): boolean => VERSION.test(version);

const shown = (value: string): string => JSON.stringify(value.length > 64 ? `${value.slice(0, 64)}…` : value);

export function checkModelName(name: string): void {
  if (!isModelName(name)) {
    throw invalidArgument(`model name ${shown(name)} is not valid: names are letters, digits, '_', '.', '-', without '..'`);
  }
}

export function checkVersion(version: string): void {
  if (!isVersion(version)) throw invalidArgument(`model version ${shown(version)} is not valid: versions are positive integers`);
}
