// Checks of the admin user editor (the server's limits, spec 1.5.2), free of React.

export const USERNAME_MAX = 12;
export const PASSWORD_MIN = 8;
export const PASSWORD_MAX = 20;
export const DISPLAY_NAME_MAX = 20;
export const QUOTA_MAX = 10 ** 18;

export const USER_ENABLED = 1;
export const USER_DISABLED = 2;

export interface UserFormValues {
  username: string;
  password: string;
  display_name: string;
  group: string;
  quota: number | string;
}

export type UserFormErrors = Partial<Record<keyof UserFormValues, string>>;

/** Translation keys (namespace "user") by field; {} when valid. */
export function validateUser(values: UserFormValues, creating: boolean): UserFormErrors {
  const errors: UserFormErrors = {};
  const username = values.username.trim();
  if (!username || [...username].length > USERNAME_MAX) errors.username = "validation.username";
  const password = values.password;
  if ((creating || password) && ([...password].length < PASSWORD_MIN || [...password].length > PASSWORD_MAX))
    errors.password = "validation.password";
  if ([...values.display_name.trim()].length > DISPLAY_NAME_MAX) errors.display_name = "validation.displayName";
  if (!creating) {
    if (!values.group.trim()) errors.group = "validation.group";
    const q = values.quota;
    if (typeof q !== "number" || !Number.isInteger(q) || q < 0 || q > QUOTA_MAX) errors.quota = "validation.quota";
  }
  return errors;
}
