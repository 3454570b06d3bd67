/**
 * The MSX emulator's directory: security clients, users, tenants and the sessions behind issued tokens,
 * shared by the token endpoint (`msx.ts`) and the APIs (`msx-api.ts`).
 * @module
 */

import { TokenBook } from '../core/tokens.js';
import type { VendorContext } from '../core/vendor.js';

/** Grant type URN of the switch-tenant grant. */
export const MSX_SWITCH_TENANT = 'urn:cisco:nfv:oauth:grant-type:switch-tenant';
/** Grant type URN of the switch-user grant. */
export const MSX_SWITCH_USER = 'urn:cisco:nfv:oauth:grant-type:switch-user';
/** The grants the emulator implements (a security client may be registered for any of them). */
export const MSX_GRANTS: readonly string[] = [
  'password',
  'refresh_token',
  'client_credentials',
  MSX_SWITCH_TENANT,
  MSX_SWITCH_USER,
];

/** The second demo user (a tenant admin of "Coke", not a super user). */
export const MSX_OPERATOR = {
  id: 'b4e2d3f5-6c7e-4f8a-9b0c-1d2e3f4a5b6c',
  username: 'operator',
  password: 'Operator-sandbox-password-1!',
} as const;

/** The root tenant every other one descends from. */
export const MSX_ROOT_TENANT = '0f1e2d3c-4b5a-4968-8776-a5b4c3d2e1f0';

/** Spring Security's text for a request without credentials. */
export const MSX_UNAUTHORIZED = 'Full authentication is required to access this resource';

/** The seed's security-client scopes. */
const SEED_SCOPES = [
  'address',
  'read',
  'phone',
  'openid',
  'profile',
  'write',
  'email',
  'tenant_hierarchy',
  'token_details',
];

/** Tenants from the seed's sample output. */
const SEED_TENANTS: Array<[string, string]> = [
  ['1817ec68-e182-4865-8d83-fc13035b4811', 'Dandelion and Burdock'],
  ['133815cb-2335-474d-8c10-3e635aba94fd', 'Coke'],
  ['8b06bda7-61a0-41cf-9aaa-61af86aeaec5', 'Sprite'],
  ['838a148f-1175-4a11-8ac2-4e4ee0a8e048', 'Pepsi'],
];

/** A registered security client. */
export interface SecurityClient {
  clientId: string;
  clientSecret: string;
  grantTypes: string[];
  scopes: string[];
  /** Undefined: the vendor setting `tokenLifetimeSeconds`. */
  accessTokenValiditySeconds?: number;
  refreshTokenValiditySeconds: number;
}

/** A user. */
export interface User {
  id: string;
  username: string;
  password: string;
  firstName: string;
  lastName: string;
  email: string;
  roles: string[];
  tenantId: string;
}

/** A tenant as the API shows it (without `numberOfChildren`, which is computed). */
export interface Tenant {
  id: string;
  name: string;
  parentId: string | null;
  externalId: string | null;
  description: string | null;
  url: string | null;
  image: string | null;
  email: string | null;
  suspended: boolean;
  createdOn: string;
  modifiedOn: string;
}

/** What an issued token stands for. */
export interface Session {
  clientId: string;
  /** Undefined for client_credentials. */
  userId?: string;
  tenantId: string;
  scopes: string[];
}

function seedTenants(): Map<string, Tenant> {
  const at = '2024-01-01T00:00:00.000Z';
  const t = (id: string, name: string, parentId: string | null): Tenant => ({
    id,
    name,
    parentId,
    externalId: null,
    description: null,
    url: null,
    image: null,
    email: null,
    suspended: false,
    createdOn: at,
    modifiedOn: at,
  });
  const out = new Map<string, Tenant>([[MSX_ROOT_TENANT, t(MSX_ROOT_TENANT, 'Cisco Systems', null)]]);
  for (const [id, name] of SEED_TENANTS) out.set(id, t(id, name, MSX_ROOT_TENANT));
  return out;
}

/** Clients, users, tenants and issued tokens of one MSX emulator. */
export class MsxDirectory {
  /** Issued access tokens. */
  readonly access = new TokenBook<Session>();
  /** Issued refresh tokens (only for clients registered with `refresh_token`). */
  readonly refresh = new TokenBook<Session>();
  /** Tenants by id, in creation order. */
  tenants = seedTenants();
  #clients = new Map<string, SecurityClient>();

  constructor(private readonly ctx: VendorContext<'msx'>) {}

  /** The users: the super user of the credentials, and {@link MSX_OPERATOR}. */
  users(): User[] {
    const c = this.ctx.credentials();
    return [
      {
        id: 'a3f1c2e4-5b6d-4e7f-8a9b-0c1d2e3f4a5b',
        username: c.username,
        password: c.password,
        firstName: 'Super',
        lastName: 'User',
        email: 'superuser@example.com',
        roles: ['ROLE_SUPER_USER'],
        tenantId: MSX_ROOT_TENANT,
      },
      {
        id: MSX_OPERATOR.id,
        username: MSX_OPERATOR.username,
        password: MSX_OPERATOR.password,
        firstName: 'Tenant',
        lastName: 'Operator',
        email: 'operator@example.com',
        roles: ['ROLE_TENANT_ADMIN'],
        tenantId: SEED_TENANTS[1]![0],
      },
    ];
  }

  /** The user with this id. */
  user(id: string | undefined): User | undefined {
    return id === undefined ? undefined : this.users().find((u) => u.id === id);
  }

  /** A client by id: the built-in one (the seed's registration) or a registered one. */
  client(id: string): SecurityClient | undefined {
    const c = this.ctx.credentials();
    if (id === c.clientId) {
      return {
        clientId: c.clientId,
        clientSecret: c.clientSecret,
        grantTypes: ['password', MSX_SWITCH_TENANT, MSX_SWITCH_USER],
        scopes: SEED_SCOPES,
        refreshTokenValiditySeconds: 18000,
      };
    }
    return this.#clients.get(id);
  }

  /** Registers a client. */
  addClient(client: SecurityClient): void {
    this.#clients.set(client.clientId, client);
  }

  /** True for a super user. */
  isSuper(u: User | undefined): boolean {
    return u?.roles.includes('ROLE_SUPER_USER') === true;
  }

  /** True when the tenant exists and the user may act in it. */
  canUseTenant(u: User, tenantId: string): boolean {
    return this.tenants.has(tenantId) && (this.isSuper(u) || u.tenantId === tenantId);
  }

  /** Back to the state at start. */
  reset(): void {
    this.access.clear();
    this.refresh.clear();
    this.#clients.clear();
    this.tenants = seedTenants();
  }
}
