export default {
  title: 'Sign in to Tracecraft',
  subtitle: 'Forms · Flows · Traceability',
  username: 'User name',
  password: 'Password',
  signIn: 'Sign in',
  signingIn: 'Signing in…',
  signOut: 'Sign out',
  required: 'Enter your {field}',
  sessionEnded: 'Your session has ended; sign in again',
}
