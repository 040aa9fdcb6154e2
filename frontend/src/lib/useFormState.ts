// An editor's form: its values, the errors of the last submit (editing a field clears
// that field's error; the rest wait for the next submit), and a submit that validates
// first, then saves with the button showing progress and a failure shown as a toast.
import { useState, type Dispatch, type FormEvent, type SetStateAction } from "react";

import { notifyError } from "./notify";

type Errors = Partial<Record<string, string>>;

export interface FormState<V extends object, E extends Errors> {
  values: V;
  setValues: Dispatch<SetStateAction<V>>;
  errors: E;
  /** Change fields and clear their errors. */
  update: (changes: Partial<V>) => void;
  set: <K extends keyof V>(key: K, value: V[K]) => void;
  saving: boolean;
  submit: (validate: (values: V) => E, save: (values: V) => Promise<void>) => (event: FormEvent) => Promise<void>;
}

export function useFormState<V extends object, E extends Errors>(initial: V | (() => V)): FormState<V, E> {
  const [values, setValues] = useState<V>(initial);
  const [errors, setErrors] = useState<E>({} as E);
  const [saving, setSaving] = useState(false);

  const update = (changes: Partial<V>) => {
    setValues((current) => ({ ...current, ...changes }));
    setErrors((current) => {
      const next: Errors = { ...current };
      for (const key of Object.keys(changes)) next[key] = undefined;
      return next as E;
    });
  };

  const submit = (validate: (values: V) => E, save: (values: V) => Promise<void>) => async (event: FormEvent) => {
    event.preventDefault();
    const found = validate(values);
    setErrors(found);
    if (Object.keys(found).length > 0) return;
    setSaving(true);
    try {
      await save(values);
    } catch (error) {
      notifyError(error);
    } finally {
      setSaving(false);
    }
  };

  return {
    values,
    setValues,
    errors,
    update,
    set: (key, value) => update({ [key]: value } as unknown as Partial<V>),
    saving,
    submit,
  };
}
