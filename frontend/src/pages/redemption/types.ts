// Redemption codes as /api/redemption returns them (spec 2.5).

export const REDEMPTION_ENABLED = 1;
export const REDEMPTION_DISABLED = 2;
export const REDEMPTION_USED = 3;

export interface Redemption {
  id: number;
  user_id: number;
  key: string;
  status: number;
  name: string;
  quota: number;
  created_time: number;
  redeemed_time: number;
}
